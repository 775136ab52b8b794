"""E1 report bodies against the guide's samples, and the device clock."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from occusense.analytics.line import LineTotals
from occusense.analytics.regions import RegionState
from occusense.clock import DeviceClock
from occusense.reports.bodies import DwellRecord, ReportBodies
from tests.conftest import SHARED, check_shapes

REFERENCE = SHARED / "reference" / "vs121p-reports"
INFO = {
    "device": "Workplace Sensor",
    "device_sn": "369362028335",
    "device_mac": "00:16:28:FA:8E:68",
    "ip_address": "192.168.0.99",
}
T0 = datetime(2022, 12, 20, 18, 15, 52, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def every_body() -> dict[str, dict]:
    b = ReportBodies(INFO, DeviceClock("Asia/Shanghai"))
    state = RegionState(10, (5, 5))
    return {
        "region_interval_counting": b.region_interval(T0, T0 + 3600, state, 12, False),
        "region_interval_occupancy": b.region_interval(T0, T0 + 3600, state, 12, True),
        "region_trigger_counting": b.region_trigger(T0, state, False),
        "region_trigger_occupancy": b.region_trigger(T0, state, True),
        "dwell_interval": b.dwell_interval(T0, T0 + 3600, [(1, 156464, 156464), (2, 9.6, 4.4)]),
        "dwell_trigger": b.dwell_trigger(T0, [DwellRecord(1, 1, T0, T0 + 5.646)]),
        "line_interval": b.line_interval(T0, T0 + 3600, LineTotals(10, 10), LineTotals(10, 10)),
        "line_trigger": b.line_trigger(T0, 1, 0),
        "flow_interval": b.flow_interval(
            T0, T0 + 3600, {f"{a}-{c}": 10 for a in "ABCD" for c in "ABCD"}
        ),
    }


def test_every_body_passes_the_shared_shape_checker(tmp_path) -> None:
    path = tmp_path / "reports.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in every_body().values()))
    result = check_shapes(path)
    assert result.returncode == 0, result.stdout
    assert "0 report(s) differ" in result.stdout


@pytest.mark.parametrize("name", sorted(every_body()))
def test_key_order_and_nesting_match_the_guide(name) -> None:
    want = json.loads((REFERENCE / f"{name}.json").read_text())
    got = every_body()[name]
    assert list(got) == list(want)
    for key, value in want.items():
        if isinstance(value, dict) and key != "flow_data":
            assert list(got[key]) == list(value)


def test_sample_values_are_reproduced() -> None:
    bodies = every_body()
    ref = json.loads((REFERENCE / "line_interval.json").read_text())
    assert bodies["line_interval"] == ref
    assert bodies["region_interval_counting"] == json.loads(
        (REFERENCE / "region_interval_counting.json").read_text()
    )
    trigger = bodies["dwell_trigger"]["dwell_time_data"][0]
    assert trigger["duration"] == 5646
    assert trigger["dwell_start_time"] == "2022-12-20T18:15:52+08:00"


@pytest.mark.parametrize(
    ("zone", "when", "label", "dst"),
    [
        ("UTC", datetime(2026, 1, 1, 12), "UTC+0:00", False),
        ("Asia/Shanghai", datetime(2026, 1, 1, 12), "UTC+8:00", False),
        ("Asia/Kolkata", datetime(2026, 1, 1, 12), "UTC+5:30", False),
        ("America/New_York", datetime(2026, 1, 15, 12), "UTC-5:00", False),
        ("America/New_York", datetime(2026, 7, 15, 12), "UTC-4:00", True),
        ("America/St_Johns", datetime(2026, 1, 15, 12), "UTC-3:30", False),
    ],
)
def test_timezone_label_and_dst(zone, when, label, dst) -> None:
    clock = DeviceClock(zone)
    ts = when.replace(tzinfo=ZoneInfo(zone)).timestamp()
    assert clock.utc_offset_label(ts) == label
    assert clock.dst(ts) is dst
    assert clock.local_text(ts) == when.strftime("%Y/%m/%d %H:%M:%S")
