"""E2 periodic schemes and E3 report-by-result, through the real reporter."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from occusense.analytics.engine import Analytics
from occusense.clock import DeviceClock
from occusense.config import parse_config
from occusense.config.reporting import PeriodicScheme
from occusense.reports.bodies import ReportBodies
from occusense.reports.clock import PeriodicSchedule
from occusense.reports.reporter import Reporter
from occusense.track import TrackedPeople

PARIS = ZoneInfo("Europe/Paris")


def at(*args) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()


@pytest.mark.parametrize(
    ("scheme", "interval", "after", "due"),
    [
        (PeriodicScheme.from_now_on, 300, at(2026, 3, 2, 10, 3, 20), at(2026, 3, 2, 10, 8, 20)),
        (PeriodicScheme.on_the_dot, 600, at(2026, 3, 2, 10, 3, 20), at(2026, 3, 2, 10, 10)),
        (PeriodicScheme.on_the_dot, 3600, at(2026, 3, 2, 10, 3, 20), at(2026, 3, 2, 11, 0)),
        (PeriodicScheme.on_the_dot, 3600, at(2026, 3, 2, 11, 0), at(2026, 3, 2, 12, 0)),
        (PeriodicScheme.on_the_dot, 86400, at(2026, 3, 2, 10, 0), at(2026, 3, 3, 0, 0)),
        # 7 s does not divide a day: restart at midnight
        (PeriodicScheme.on_the_dot, 7, at(2026, 3, 2, 23, 59, 58), at(2026, 3, 3, 0, 0)),
        # the night clocks go forward (Paris, 2026-03-29 02:00 -> 03:00)
        (PeriodicScheme.on_the_dot, 3600, at(2026, 3, 29, 1, 30), at(2026, 3, 29, 3, 0)),
    ],
)
def test_next_due(scheme, interval, after, due) -> None:
    assert PeriodicSchedule(scheme, interval, DeviceClock("Europe/Paris")).next_due(after) == due


def make_reporter(extra: dict) -> tuple[Reporter, Analytics]:
    config = parse_config(
        {
            "time": {"timezone": "Europe/Paris"},
            "region_counting": {"report": {"interval_s": 5, **extra}},
            "line_crossing": {
                "enabled": True,
                "line": {"points": [[0, 0.5], [1, 0.5]]},
                "report": {"interval_s": 10},
            },
        }
    )
    analytics = Analytics(config, 100, 100)
    bodies = ReportBodies(
        {"device": "d", "device_sn": "1", "device_mac": "m", "ip_address": "i"},
        DeviceClock("Europe/Paris"),
    )
    return Reporter(config, analytics, bodies, start=at(2026, 3, 2, 10, 0)), analytics


def people(*points) -> TrackedPeople:
    boxes = np.array([[x - 2, y - 10, x + 2, y] for x, y in points], dtype=np.float32)
    return TrackedPeople(ids=np.arange(1, len(points) + 1), boxes=boxes.reshape(-1, 4))


def test_periodic_reports_cover_consecutive_intervals() -> None:
    reporter, analytics = make_reporter({})
    start = at(2026, 3, 2, 10, 0)
    reports = []
    for i in range(301):  # 30 s at 10 fps
        ts = start + i / 10
        reports += reporter.on_frame(analytics.update(ts, people((50, 80))))
    region = [r.body for r in reports if r.feature == "region"]
    line = [r.body for r in reports if r.feature == "line"]
    assert len(region) == 6 and len(line) == 3
    ends = [b["time_info"]["end_time"] for b in region]
    assert ends[0] == "2026/03/02 10:00:05" and ends[-1] == "2026/03/02 10:00:30"
    starts = [b["time_info"]["start_time"] for b in region]
    assert starts[1:] == ends[:-1]
    assert region[0]["current_total"] == 1 and region[0]["max_counted"] == 1


def test_line_trigger_and_interval_counts() -> None:
    reporter, analytics = make_reporter({})
    start = at(2026, 3, 2, 10, 0)
    reports = []
    for i, y in enumerate([80, 70, 60, 40, 30, 20]):  # walks up across y=50: In
        reports += reporter.on_frame(analytics.update(start + i / 10, people((50, y))))
    triggers = [r.body for r in reports if r.body["report_type"] == "trigger"]
    assert [t["line_trigger_data"] for t in triggers] == [{"in": 1, "out": 0}]
    reports = reporter.on_frame(analytics.update(start + 10.0, people((50, 20))))
    interval = next(r.body for r in reports if r.feature == "line")
    assert (interval["in_counted"], interval["out_counted"], interval["capacity_counted"]) == (
        1,
        0,
        1,
    )
    assert interval["total_data"]["in_cumulative_counted"] == 1


@pytest.mark.parametrize(
    ("mode", "sequence", "expected_triggers"),
    [
        ("every_change", [0, 1, 2, 2, 1, 0], 4),
        ("zero_nonzero", [0, 1, 2, 2, 1, 0], 2),
        ("zero_nonzero", [1, 1, 1], 0),
    ],
)
def test_report_by_result(mode, sequence, expected_triggers) -> None:
    reporter, analytics = make_reporter(
        {"report_by_result": True, "result_mode": mode, "periodic_enabled": False}
    )
    analytics.regions.debounce_s = 0.0
    start = at(2026, 3, 2, 10, 0)
    found = []
    for i, n in enumerate(sequence):
        frame = people(*[(10 + 10 * k, 80) for k in range(n)])
        found += reporter.on_frame(analytics.update(start + i, frame))
    triggers = [r for r in found if r.feature == "region"]
    assert len(triggers) == expected_triggers
    assert all(r.body["report_type"] == "trigger" for r in triggers)


def test_dwell_reports_trigger_and_interval(tmp_path) -> None:
    import json

    from tests.conftest import check_shapes

    config = parse_config(
        {
            "time": {"timezone": "Europe/Paris"},
            "region_counting": {
                "customize_area": True,
                "debounce_s": 1,
                "regions": [{"points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
                "dwell": {"enabled": True, "min_dwell_s": 2},
                "report": {"interval_s": 30},
            },
        }
    )
    analytics = Analytics(config, 100, 100)
    bodies = ReportBodies(
        {"device": "d", "device_sn": "1", "device_mac": "m", "ip_address": "i"},
        DeviceClock("Europe/Paris"),
    )
    start = at(2026, 3, 2, 10, 0)
    reporter = Reporter(config, analytics, bodies, start)
    reports = []
    for i in range(301):
        inside = i < 100  # in the region for 10 s, then gone
        frame = people((20, 50)) if inside else people()
        reports += reporter.on_frame(analytics.update(start + i / 10, frame))
    dwell = [r.body for r in reports if r.feature == "dwell"]
    trigger = [b for b in dwell if b["report_type"] == "trigger"]
    interval = [b for b in dwell if b["report_type"] == "interval"]
    assert len(trigger) == 1
    record = trigger[0]["dwell_time_data"][0]
    assert record["region"] == 1 and record["duration"] == 9900
    assert record["dwell_start_time"] == "2026-03-02T10:00:00+01:00"
    assert interval[0]["dwell_time_data"] == [
        {"region": 1, "max_dwell_time": 10, "avg_dwell_time": 10}
    ]
    path = tmp_path / "dwell.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in dwell))
    assert check_shapes(path).returncode == 0


def test_feature_outside_its_schedule_sends_no_report() -> None:
    off = {
        d: {"enabled": False}
        for d in ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    }
    config = parse_config({"region_counting": {"schedule": off, "report": {"interval_s": 5}}})
    analytics = Analytics(config, 100, 100)
    bodies = ReportBodies(
        {"device": "d", "device_sn": "1", "device_mac": "m", "ip_address": "i"}, DeviceClock("UTC")
    )
    reporter = Reporter(config, analytics, bodies, start=0.0)
    reports = []
    for i in range(300):
        reports += reporter.on_frame(analytics.update(i / 10, people((50, 80))))
    assert reports == []
