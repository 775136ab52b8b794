"""Counting state that survives a restart (issue 26): ``<state_dir>/counts.json``.

What a counter holds longer than a frame is written here at most a second
behind (so a ``kill -9`` loses at most a second of counts) and restored when
the sensor starts: the line's cumulative in/out since the last scheduled
reset and its open period's in/out, the open period's highest region total,
the regions' dwell figures of the open period and the flow matrix, and the
time the counters last saw (a scheduled reset that fell due while the sensor
was stopped is applied at the first frame, by the same rule as a running
reset: its moment lies between that time and now).

Each feature's state is restored only onto the same feature: a line whose
points moved, regions redrawn or a flow area changed start from zero (the
file says which shapes it counted, as a digest). A file that is unreadable
or from elsewhere is set aside (``counts.json.corrupt-<time>``) with one
warning, and counting starts from zero.

Why a JSON file and not the history database: it is one small document
replaced atomically (temp file + rename + fsync) once a second, readable by
hand, and independent of the history store being enabled or reachable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from occusense.analytics.dwell import DwellStats
from occusense.analytics.engine import Analytics
from occusense.analytics.line import LineTotals
from occusense.config.model import DeviceConfig
from occusense.files import load_state, set_aside_said, write_atomic

log = logging.getLogger(__name__)

COUNTS = "counts.json"
FORMAT = 1
SAVE_EVERY_S = 1.0


def shapes(config: DeviceConfig) -> dict[str, str]:
    """A digest of what each feature counts: its state fits only that."""
    rc, lc, pf = config.region_counting, config.line_crossing, config.people_flow

    def digest(*parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]

    return {
        "line": digest(lc.line.points, lc.uturn_filter, lc.uturn_area),
        "regions": digest(rc.customize_area, rc.area_mode, [r.points for r in rc.regions]),
        "flow": digest(pf.area, pf.edge_names),
    }


def snapshot(analytics: Analytics, config: DeviceConfig) -> dict[str, Any]:
    """The counters' lasting state as a JSON-able document."""
    doc: dict[str, Any] = {"format": FORMAT, "saved_at": time.time(),
                           "last_ts": analytics._last_ts, "shapes": shapes(config)}
    if analytics.line is not None:
        line = analytics.line
        doc["line"] = {"cumulative": [line.cumulative.inward, line.cumulative.outward],
                       "period": [line.period.inward, line.period.outward],
                       "since": line.cumulative.since}
    if analytics.regions is not None:
        doc["regions"] = {"period_max": int(analytics.regions.period_max)}
        if analytics.dwell is not None:
            doc["regions"]["dwell"] = [list(s.durations) for s in analytics.dwell._period]
    if analytics.flow is not None:
        doc["flow"] = {"period": dict(analytics.flow.period)}
    return doc


def restore(analytics: Analytics, config: DeviceConfig, doc: dict[str, Any]) -> list[str]:
    """Put ``doc``'s state back into ``analytics`` where the shapes still
    match; the features restored."""
    same = doc.get("shapes", {})
    now = shapes(config)
    restored = []
    if analytics.line is not None and "line" in doc and same.get("line") == now["line"]:
        cumulative, period = doc["line"]["cumulative"], doc["line"]["period"]
        since = doc["line"].get("since")
        analytics.line.cumulative = LineTotals(int(cumulative[0]), int(cumulative[1]),
                                               float(since) if since is not None else None)
        analytics.line.period = LineTotals(int(period[0]), int(period[1]))
        restored.append("line")
    regions = doc.get("regions")
    if analytics.regions is not None and regions and same.get("regions") == now["regions"]:
        analytics.regions.period_max = int(regions["period_max"])
        dwell = regions.get("dwell")
        if analytics.dwell is not None and dwell and len(dwell) == len(analytics.dwell._period):
            analytics.dwell._period = [DwellStats([float(d) for d in ds]) for ds in dwell]
        restored.append("regions")
    if analytics.flow is not None and "flow" in doc and same.get("flow") == now["flow"]:
        saved = doc["flow"]["period"]
        if set(saved) == set(analytics.flow.period):
            analytics.flow.period = {k: int(v) for k, v in saved.items()}
            restored.append("flow")
    if restored and doc.get("last_ts") is not None:
        analytics._last_ts = float(doc["last_ts"])  # resets due meanwhile apply at once
    return restored


def _counts_document(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not a counts file of this version")
    return doc


class CountFile:
    """``<state_dir>/counts.json``: read once at start, written at most
    every ``SAVE_EVERY_S`` while counting (and at the stop)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / COUNTS
        self._saved_at = 0.0
        self._last_text = ""
        self._warned = False

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None (none yet, or unusable: set aside)."""
        return load_state(self.path, "the saved counts", _counts_document, "counting from zero")

    def set_aside(self, why: Exception) -> None:
        """A file whose content does not fit the counters (a wrong type
        inside): kept for inspection, never overwritten."""
        set_aside_said(self.path, f"the saved counts {self.path} do not fit ({why})",
                       "counting from zero")

    def save(self, analytics: Analytics, config: DeviceConfig, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._saved_at < SAVE_EVERY_S:
            return
        self._saved_at = now
        doc = snapshot(analytics, config)
        text = json.dumps({k: v for k, v in doc.items() if k != "saved_at"}, sort_keys=True)
        if text == self._last_text and not force:
            return  # nothing changed: no disk write
        try:
            write_atomic(self.path, json.dumps(doc), private_folder=True)
        except OSError as exc:
            if not self._warned:
                log.error("the counts cannot be saved in %s (%s): a restart now would lose "
                          "them", self.path.parent, exc.strerror or exc)
                self._warned = True
            return
        self._last_text, self._warned = text, False
