"""VS121-P JSON report bodies (SPEC E1, guide section 7).

Keys, nesting and key order follow the guide's samples exactly, with its
typos mended: the lower-case ``max_counted`` and valid JSON throughout.
The optional ``snapshot`` (base64 JPEG) is added by the caller.
"""

from __future__ import annotations

from typing import Any

from occusense.analytics.dwell import DwellRecord
from occusense.analytics.line import LineTotals
from occusense.analytics.regions import RegionState
from occusense.clock import DeviceClock

REGION_EVENT = "Region People Counting"
DWELL_EVENT = "Dwell Time Detection"
LINE_EVENT = "Line Crossing Counting"
FLOW_EVENT = "People Flow Analysis"


class ReportBodies:
    """Builds report bodies for one device.

    Args:
        device_info: the ``device_info`` object every report carries.
        clock: formats times in the device's time zone.
    """

    def __init__(self, device_info: dict[str, str], clock: DeviceClock) -> None:
        self.device_info = device_info
        self.clock = clock

    def _head(self, event: str, report_type: str) -> dict[str, Any]:
        return {"event": event, "report_type": report_type, "device_info": self.device_info}

    def region_interval(
        self, start: float, end: float, state: RegionState, peak: int, occupancy: bool
    ) -> dict[str, Any]:
        body = self._head(REGION_EVENT, "interval")
        body["time_info"] = self.clock.interval_info(start, end)
        body["current_total"] = state.total
        body["max_counted"] = peak
        body.update(_region_values(state, occupancy))
        return body

    def region_trigger(self, ts: float, state: RegionState, occupancy: bool) -> dict:
        body: dict[str, Any] = {
            "event": REGION_EVENT,
            "device_info": self.device_info,
            "time_info": self.clock.trigger_info(ts),
            "report_type": "trigger",
            "current_total": state.total,
        }
        body.update(_region_values(state, occupancy))
        return body

    def dwell_interval(
        self, start: float, end: float, rows: list[tuple[int, float, float]]
    ) -> dict[str, Any]:
        """``rows``: (region, max dwell s, average dwell s) per region."""
        body = self._head(DWELL_EVENT, "interval")
        body["time_info"] = self.clock.interval_info(start, end)
        body["dwell_time_data"] = [
            {"region": r, "max_dwell_time": round(mx), "avg_dwell_time": round(avg)}
            for r, mx, avg in rows
        ]
        return body

    def dwell_trigger(self, ts: float, records: list[DwellRecord]) -> dict[str, Any]:
        body = self._head(DWELL_EVENT, "trigger")
        body["time_info"] = self.clock.trigger_info(ts)
        body["dwell_time_data"] = [
            {
                "region": d.region,
                "people_id": d.person_id,
                "dwell_start_time": self.clock.iso(d.start),
                "dwell_end_time": self.clock.iso(d.end),
                "duration": d.duration_ms,
            }
            for d in records
        ]
        return body

    # events for automations (issue 29): not VS121-P reports, their own names
    def overcrowding(self, ts: float, on: bool, total: int, threshold: int) -> dict[str, Any]:
        body = self._head("Overcrowding", "event")
        body["time_info"] = self.clock.trigger_info(ts)
        body["state"] = "start" if on else "end"
        body["current_total"] = total
        body["threshold"] = threshold
        return body

    def long_stay(self, ts: float, person: int, region: int, start: float,
                  last: float) -> dict[str, Any]:
        body = self._head("Long Stay", "event")
        body["time_info"] = self.clock.trigger_info(ts)
        body["region"] = region
        body["people_id"] = person
        body["stay_start_time"] = self.clock.iso(start)
        body["duration_s"] = round(last - start, 1)
        return body

    def line_interval(
        self, start: float, end: float, period: LineTotals, total: LineTotals
    ) -> dict[str, Any]:
        body = self._head(LINE_EVENT, "interval")
        body["time_info"] = self.clock.interval_info(start, end)
        body["in_counted"] = period.inward
        body["out_counted"] = period.outward
        body["capacity_counted"] = period.capacity
        body["total_data"] = {
            "in_cumulative_counted": total.inward,
            "out_cumulative_counted": total.outward,
            "capacity_cumulative_counted": total.capacity,
        }
        return body

    def line_trigger(self, ts: float, inward: int, outward: int) -> dict[str, Any]:
        body = self._head(LINE_EVENT, "trigger")
        body["time_info"] = self.clock.trigger_info(ts)
        body["line_trigger_data"] = {"in": inward, "out": outward}
        return body

    def flow_interval(self, start: float, end: float, matrix: dict[str, int]) -> dict[str, Any]:
        body = self._head(FLOW_EVENT, "interval")
        body["time_info"] = self.clock.interval_info(start, end)
        body["flow_data"] = dict(matrix)
        return body


def _region_values(state: RegionState, occupancy: bool) -> dict[str, Any]:
    values = state.occupancy if occupancy else state.per_region
    return {
        "total_mapped_regions": len(state.per_region),
        "numbering_regions": list(range(1, len(state.per_region) + 1)),
        ("occupancy" if occupancy else "current_counted"): list(values),
    }
