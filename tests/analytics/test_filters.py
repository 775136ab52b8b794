"""L4 U-turn area, L5 staff filter, R7 alarm, R8 resets, P6 schedules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from occusense.analytics.engine import Analytics, overcrowded, reset_due
from occusense.analytics.geometry import DirectedPolyline, PolygonZone
from occusense.analytics.line import LineCounter
from occusense.analytics.regions import RegionState
from occusense.clock import DeviceClock
from occusense.config import parse_config
from occusense.config.features import OvercrowdingAlarm
from occusense.config.schedule import ResetSchedule
from occusense.track import TrackedPeople

LINE = DirectedPolyline([(0.0, 100.0), (400.0, 100.0)])
AREA = PolygonZone([(0, 60), (400, 60), (400, 140), (0, 140)])  # 40 px each side
H = np.array([60.0])


def walk(counter: LineCounter, ys, start_ts: float = 0.0, pid: int = 1) -> None:
    for i, y in enumerate(ys):
        counter.update(start_ts + i * 0.1, np.array([pid]), np.array([[200.0, y]]), H)


def totals(counter: LineCounter) -> tuple[int, int]:
    return counter.cumulative.inward, counter.cumulative.outward


@pytest.mark.parametrize(
    ("ys", "expected"),
    [
        (range(200, -1, -10), (1, 0)),  # through the whole area: In
        ([200, 150, 120, 90, 70, 90, 120, 150, 200], (0, 0)),  # U-turn past the line, in area
        ([200, 130, 110, 90, 80, 70, 65], (0, 0)),  # still inside the area: not yet
        ([200, 130, 90, 70, 50, 20], (1, 0)),
    ],
)
def test_uturn_area(ys, expected) -> None:
    counter = LineCounter(LINE, uturn_area=AREA)
    walk(counter, ys)
    assert totals(counter) == expected


def test_without_uturn_area_the_same_turn_counts_both_ways() -> None:
    counter = LineCounter(LINE)
    walk(counter, [200, 150, 120, 90, 70, 90, 120, 150, 200])
    assert totals(counter) == (1, 1)


def test_staff_pulse_discards_the_next_single_count_within_8_s() -> None:
    counter = LineCounter(LINE)
    counter.staff_pulse(0.0)
    walk(counter, [200, 150, 50], start_ts=1.0, pid=1)  # the staff member: discarded
    walk(counter, [200, 150, 50], start_ts=2.0, pid=2)  # a visitor right after: counted
    assert totals(counter) == (1, 0) and counter.staff_discarded == 1


def test_staff_pulse_expires_after_its_window() -> None:
    counter = LineCounter(LINE, staff_window_s=8.0)
    counter.staff_pulse(0.0)
    walk(counter, [200, 150, 50], start_ts=9.0)
    assert totals(counter) == (1, 0) and counter.staff_discarded == 0


@pytest.mark.parametrize(
    ("trigger", "state", "threshold", "alarm"),
    [
        ("total_number", RegionState(11, (6, 5)), 10, True),
        ("total_number", RegionState(10, (6, 4)), 10, False),
        ("number_in_area", RegionState(11, (6, 5)), 10, False),
        ("number_in_area", RegionState(11, (11, 0)), 10, True),
        ("number_in_area", RegionState(11, ()), 10, True),  # no region: whole frame
    ],
)
def test_overcrowding(trigger, state, threshold, alarm) -> None:
    settings = OvercrowdingAlarm(enabled=True, trigger=trigger, threshold=threshold)
    assert overcrowded(settings, state) is alarm


PARIS = ZoneInfo("Europe/Paris")


def ts(*args) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()


@pytest.mark.parametrize(
    ("reset", "before", "now", "due"),
    [
        (
            {"day": "everyday", "hour": 18, "minute": 4},
            ts(2026, 11, 23, 18, 3, 59),
            ts(2026, 11, 23, 18, 4, 0),
            True,
        ),
        (
            {"day": "everyday", "hour": 18, "minute": 4},
            ts(2026, 11, 23, 18, 4, 0),
            ts(2026, 11, 23, 18, 4, 1),
            False,
        ),
        (
            {"day": "monday", "hour": 0, "minute": 0},
            ts(2026, 11, 22, 23, 59),
            ts(2026, 11, 23, 0, 0, 1),
            True,
        ),  # 2026-11-23 is a Monday
        (
            {"day": "tuesday", "hour": 0, "minute": 0},
            ts(2026, 11, 22, 23, 59),
            ts(2026, 11, 23, 0, 0, 1),
            False,
        ),
        # a gap in time that spans the reset moment still resets
        (
            {"day": "everyday", "hour": 3, "minute": 0},
            ts(2026, 11, 22, 12, 0),
            ts(2026, 11, 23, 12, 0),
            True,
        ),
    ],
)
def test_reset_due(reset, before, now, due) -> None:
    settings = ResetSchedule(enabled=True, **reset)
    assert reset_due(settings, DeviceClock("Europe/Paris"), before, now) is due


def people(*points) -> TrackedPeople:
    boxes = np.array([[x - 5, y - 40, x + 5, y] for x, y in points], dtype=np.float32)
    return TrackedPeople(ids=np.arange(1, len(points) + 1), boxes=boxes.reshape(-1, 4))


def scheduled_config() -> dict:
    monday_9_to_12 = {
        "monday": {
            "periods": [
                {"start": "09:00", "end": "12:00"},
                {"start": "00:00", "end": "00:00"},
                {"start": "00:00", "end": "00:00"},
            ]
        }
    }
    off_days = {
        d: {"enabled": False}
        for d in ("sunday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    }
    return {
        "time": {"timezone": "Europe/Paris"},
        "region_counting": {"schedule": monday_9_to_12 | off_days, "debounce_s": 0},
        "line_crossing": {
            "enabled": True,
            "line": {"points": [[0, 0.5], [1, 0.5]]},
            "schedule": monday_9_to_12 | off_days,
        },
    }


def test_outside_its_schedule_a_feature_does_not_count() -> None:
    analytics = Analytics(parse_config(scheduled_config()), 100, 100)
    # 08:59: two people in view, one crossing the line: nothing counts
    result = analytics.update(ts(2026, 11, 23, 8, 59), people((20, 80), (50, 80)))
    assert result.region is None and result.active == {"region": False, "line": False, "flow": True}
    analytics.update(ts(2026, 11, 23, 8, 59, 30), people((20, 80), (50, 20)))
    assert analytics.line.cumulative.inward == 0
    # 09:00: the period starts; people already there count at once in regions,
    # but the one already past the line has no crossing behind them
    result = analytics.update(ts(2026, 11, 23, 9, 0), people((20, 80), (50, 20)))
    assert result.region.total == 2 and result.active["line"]
    assert analytics.line.cumulative.inward == 0
    analytics.update(ts(2026, 11, 23, 9, 0, 1), people((20, 20), (50, 20)))
    assert analytics.line.cumulative.inward == 1
