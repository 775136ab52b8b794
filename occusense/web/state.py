"""What the web layer shares with the running sensor.

The pipeline writes the latest frame, people and counts here; the web layer
only reads them, and edits the configuration through :meth:`SensorState.
apply`, which validates the whole new :class:`DeviceConfig`, saves it and
bumps ``version`` so that the run loop rebuilds its pipeline on the next
frame — changes take effect without a restart.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from occusense.analytics.engine import FrameResult
from occusense.clock import DeviceClock
from occusense.config import DeviceConfig, config_to_dict, parse_config, save_config
from occusense.config.guards import check_change
from occusense.config.io import PLACEHOLDER
from occusense.errors import ConfigError
from occusense.files import private_dir
from occusense.track import TrackedPeople

log = logging.getLogger(__name__)

HISTORY_POINTS = 8640  # 24 h at one point every 10 s
# the keys of the live counts that are not regions (regions are keyed by name)
TOTAL_KEYS = ("people", "in", "out", "alarm", "space")


def region_counts(counts: dict[str, Any]) -> dict[str, int]:
    """The people in each region, by name, from the live counts."""
    return {k: v for k, v in counts.items() if k not in TOTAL_KEYS and isinstance(v, int)}


def region_labels(config: DeviceConfig) -> list[str]:
    """What the GUI calls each region: its name, else "region N" (a name used
    twice gets its number)."""
    regions = config.region_counting.regions
    names = [r.name.strip() for r in regions]
    return [
        name if name and names.count(name) == 1 and name not in TOTAL_KEYS
        else f"region {n}" + (f" ({name})" if name else "")
        for n, name in enumerate(names, 1)
    ]


def count_labels(config: DeviceConfig, counts: dict[str, Any],
                 details: dict[str, Any]) -> dict[str, str]:
    """What each live count means, in words (the Live page's labels)."""
    regions = config.region_counting
    if not regions.customize_area or not regions.regions:
        people = "People in view"
    elif regions.area_mode.value == "non_mapped":
        people = "People outside the regions"
    else:
        people = "People in the regions"
    labels = {"people": people, "alarm": "Overcrowding alarm",
              "space": f"Inside {config.space.name or config.device.name} now (in minus out)"}
    labels |= {key: f"In {key}" for key in region_counts(counts)}
    since = details.get("line_since")
    reset = config.line_crossing.reset
    if since is not None:
        when = DeviceClock(config.time.timezone).local(since).strftime("%Y-%m-%d %H:%M")
        day = "day" if reset.day.value == "everyday" else reset.day.value.capitalize()
        rule = (f"reset every {day} at {reset.hour:02d}:{reset.minute:02d}" if reset.enabled
                else "never reset")
        labels["in"] = f"In since {when} ({rule})"
        labels["out"] = f"Out since {when}"
    return labels


def stream_url(state: SensorState, host: str) -> dict[str, str]:
    """The RTSP output as the GUI shows it: its URL as seen from ``host``
    (the address the browser used), or why there is none."""
    stream = state.rtsp_stream
    if isinstance(stream, tuple):
        port, path = stream
        host = f"[{host}]" if ":" in host else host  # an IPv6 address
        return {"url": f"rtsp://{host}:{port}{path}", "problem": ""}
    return {"url": "", "problem": stream or "off (rtsp.enabled)"}


@dataclass
class RunStats:
    """Totals of the running sensor since it started (across config changes)."""

    frames: int = 0
    dropped: int = 0  # frames a live source delivered faster than they were counted
    inference_s: float = 0.0
    reports: int = 0
    frame_rate: float = 0.0  # frames a second over the last few seconds
    lag_s: float = 0.0  # how far the counted frame is behind the camera's clock (paced sources)


@dataclass
class LiveView:
    image: np.ndarray | None = None
    people: TrackedPeople = field(default_factory=TrackedPeople)
    timestamp: float = 0.0
    frame: int = 0


class SensorState:
    """The configuration, live data and counters' history of one sensor.

    Args:
        config: the configuration in force.
        path: where :meth:`apply` saves it (None = not saved, for tests).
    """

    def __init__(self, config: DeviceConfig, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self.config = config
        self.path = path
        self.version = 0
        self.live = LiveView()
        self.counts: dict[str, Any] = {}
        self.history: collections.deque = collections.deque(maxlen=HISTORY_POINTS)
        self.transport_status: list[dict] = []
        self.detector = ""  # what detects people, and on which hardware
        self.run = RunStats()  # the frame loop's totals, for /metrics
        self._last_history = 0.0
        self.recording: Path | None = None
        self._writer: cv2.VideoWriter | None = None
        # set by the running sensor: raises ConfigError when a new config
        # cannot start (a model that does not load, an inference server down)
        self.startable: Callable[[DeviceConfig, DeviceConfig], None] | None = None
        # P5: the privacy mode is fixed once the sensor is activated (a site's
        # cameras: always, the site chose it); None = when activated
        self.privacy_fixed: bool | None = None
        self.notice = ""  # what the operator must know (a fallback to an older config)
        self.history_store: Any = None  # the history store (occusense.history), set by the runner
        self.heatmap: Any = None  # the camera's hourly grids (occusense.heatmap), set by the runner
        self.space: Any = None  # the sensor's own space (occusense.spaces), set by the runner
        self.source_up = True  # False while a live camera is lost
        self.source_problem = ""
        # what the counts mean now: features outside their schedule, since
        # when the line counts, the flow counts of the report period
        self.details: dict[str, Any] = {}
        # the RTSP output's (port, path) while it serves, else why not ("" = off)
        self.rtsp_stream: tuple[int, str] | str = ""

    # the pipeline side -----------------------------------------------------
    def publish(
        self,
        image: np.ndarray | None,
        people: TrackedPeople,
        result: FrameResult | None,
        ts: float,
        frame: int,
        counts: dict[str, Any],
    ) -> None:
        with self._lock:
            self.live = LiveView(image, people, ts, frame)
            self.counts = counts
            if ts - self._last_history >= 10 or not self.history:
                self.history.append(
                    {"t": ts, **{k: v for k, v in counts.items() if isinstance(v, int)}}
                )
                self._last_history = ts

    def rename_series(self, renames: dict[str, str]) -> None:
        """Regions renamed: their points in the live chart follow the new
        names (one series, one legend entry, not an old and a new one)."""
        with self._lock:
            points = [{renames.get(k, k): v for k, v in p.items()} for p in self.history]
            self.history.clear()
            self.history.extend(points)

    # recording (G3, Normal privacy mode only) --------------------------------------
    def start_recording(self, folder: Path, fps: float = 10.0) -> Path:
        with self._lock:
            if self.recording is not None:
                return self.recording
            image = self.live.image
            if image is None:
                raise RuntimeError("no frame yet")
            private_dir(folder)
            path = folder / time.strftime("recording-%Y%m%d-%H%M%S.avi")
            h, w = image.shape[:2]
            self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
            self.recording = path
            return path

    def record(self, picture: np.ndarray) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.write(picture)

    def stop_recording(self) -> Path | None:
        with self._lock:
            path, self.recording = self.recording, None
            if self._writer is not None:
                self._writer.release()
                self._writer = None
            return path

    def snapshot(self) -> LiveView:
        with self._lock:
            return self.live

    # the web side --------------------------------------------------------------
    def apply(self, data: dict[str, Any], origin: str = "web", *,
              privacy_change: bool = False, trusted: bool = False) -> DeviceConfig:
        """Validate a whole configuration, check that it can start, save it,
        and make it current; a configuration that breaks a rule or cannot
        start raises :class:`ConfigError` and the running one stays.

        Args:
            privacy_change: the privacy mode may change (activation, a
                factory reset); refused otherwise once it is fixed (P5).
            trusted: the change comes from the config file itself, which
                may place written files outside the state directory.
        """
        config = parse_config(data, origin)
        current = self.config
        fixed = current.users.activated if self.privacy_fixed is None else self.privacy_fixed
        check_change(current, config, privacy_fixed=fixed and not privacy_change,
                     trusted=trusted)
        if self.startable is not None:
            self.startable(config, current)
        self._save(config)  # first: a change that cannot be kept is not made
        with self._lock:
            self.config = config
            self.version += 1
        return config

    def _save(self, config: DeviceConfig) -> None:
        if self.path is None:
            return
        try:
            save_config(config, self.path)
        except OSError as exc:
            raise ConfigError(f"the configuration cannot be saved in {self.path.parent} "
                              f"({exc.strerror or exc}); nothing was changed") from None

    def fall_back(self, config: DeviceConfig, why: str) -> None:
        """Make ``config`` (the last one that started) current again, saved,
        because the newer one could not start; ``why`` is shown."""
        with self._lock:
            self.config = config
            self.version += 1
            self.notice = why
        try:
            self._save(config)
        except ConfigError as exc:  # it runs; the saved file is fixed at the next change
            log.error("%s", exc)

    def edit(self, section: str, values: dict[str, Any]) -> DeviceConfig:
        """Replace one top-level section (validated with the whole config)."""
        data = config_to_dict(self.config, include_secrets=True)
        if section not in data:
            raise KeyError(section)
        current = data[section]
        if isinstance(current, dict) and not isinstance(values, dict):
            raise ConfigError(
                f"section {section}: expected an object of settings, got {values!r:.60}"
            )
        data[section] = merge_config(current, values) if isinstance(current, dict) else values
        return self.apply(data, f"section {section}")



def _same_shape_lists(new: Any, old: Any) -> bool:
    """Lists of sections of equal length (the 3 HTTP URLs, the 3 periods)."""
    return (isinstance(new, list) and isinstance(old, list) and len(new) == len(old)
            and all(isinstance(v, dict) for v in new + old))


def merge_config(base: dict, update: dict) -> dict:
    """Nested update: keys of ``update`` replace those of ``base``; password
    fields sent as the export's ``**********`` placeholder keep their value."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        elif _same_shape_lists(value, out.get(key)):
            out[key] = [merge_config(a, b) for a, b in zip(out[key], value, strict=True)]
        elif value == PLACEHOLDER and key in out:
            continue
        else:
            out[key] = value
    return out
