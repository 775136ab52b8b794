"""Utilisation of each region over a day, a week or a month (issue 26), from
the history store: what a facilities manager asks of a room.

Per region (and ``all``, the whole camera):

- ``occupied_share``: of the hours inside the region feature's schedule in
  which the sensor counted, the share with at least one person (an hour's
  peak of 1 or more);
- ``mean_people`` / ``peak_people``: over those hours;
- ``busiest_hour`` (local hour of the day with the highest mean) and
  ``busiest_weekday``;
- ``mean_dwell_s``: the mean of the dwells that ended in the period (the
  dwell trigger reports kept in the store), when dwell detection is on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from occusense.clock import DeviceClock
from occusense.config.model import DeviceConfig
from occusense.config.schedule import WEEKDAYS
from occusense.history import HistoryStore, csv_text

COLUMNS = ["region", "scheduled_hours", "occupied_hours", "occupied_share", "mean_people",
           "peak_people", "busiest_hour", "busiest_weekday", "mean_dwell_s"]


def utilisation(store: HistoryStore, config: DeviceConfig, labels: list[str], start: float,
                end: float, cameras: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per region label (and ``all``) for ``start`` .. ``end``."""
    clock = DeviceClock(config.time.timezone)
    schedule = config.region_counting.schedule
    dwells = _mean_dwells(store, start, end)
    rows = []
    for label, series in [("all", "people")] + [(x, f"region:{x}") for x in labels]:
        hours = store.query(series, start, end, "hour", clock, cameras)
        scheduled = [h for h in hours if h["minutes"] and
                     schedule.is_active(datetime.fromisoformat(h["start"]))]
        occupied = [h for h in scheduled if h["peak"] >= 1]
        by_hour: dict[int, list[float]] = defaultdict(list)
        by_day: dict[int, list[float]] = defaultdict(list)
        for h in scheduled:
            moment = datetime.fromisoformat(h["start"])
            by_hour[moment.hour].append(h["mean"])
            by_day[moment.weekday()].append(h["mean"])
        number = labels.index(label) + 1 if label in labels else None
        rows.append({
            "region": label,
            "scheduled_hours": len(scheduled),
            "occupied_hours": len(occupied),
            "occupied_share": round(len(occupied) / len(scheduled), 3) if scheduled else 0.0,
            "mean_people": round(sum(h["mean"] for h in scheduled) / len(scheduled), 2)
            if scheduled else 0.0,
            "peak_people": max((h["peak"] for h in scheduled), default=0.0),
            "busiest_hour": f"{_busiest(by_hour):02d}:00" if by_hour else "",
            "busiest_weekday": WEEKDAYS[(_busiest(by_day) + 1) % 7] if by_day else "",
            "mean_dwell_s": dwells.get(number) if number is not None else dwells.get(0),
        })
    return rows


def _busiest(means: dict[int, list[float]]) -> int:
    return max(means, key=lambda k: sum(means[k]) / len(means[k]))


def _mean_dwells(store: HistoryStore, start: float, end: float) -> dict[int, float]:
    """Mean dwell (s) per region number (0 = every region) from the dwell
    trigger reports kept in the store."""
    durations: dict[int, list[float]] = defaultdict(list)
    for _, _, body in store.reports_between(start, end, "dwell"):
        report = json.loads(body)
        if report.get("report_type") != "trigger":
            continue
        for dwell in report.get("dwell_time_data", []):
            seconds = dwell.get("duration", 0) / 1000
            durations[int(dwell.get("region", 0))].append(seconds)
            durations[0].append(seconds)
    return {r: round(sum(v) / len(v), 1) for r, v in durations.items() if v}


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The utilisation rows as CSV (region names safe to open in a spreadsheet)."""
    return csv_text(rows, COLUMNS)
