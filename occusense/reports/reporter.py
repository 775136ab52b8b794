"""Decides when each feature reports (E2 periodic, E3 by result, L3 trigger).

The reporter reads the counters' state after every frame and returns the
report bodies that fell due, tagged with their feature so that transports
can route each feature to its own recipients (E5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from occusense.analytics.engine import Analytics, FrameResult
from occusense.analytics.regions import RegionState
from occusense.clock import DeviceClock
from occusense.config.features import ReportingType
from occusense.config.model import DeviceConfig
from occusense.config.reporting import ReportSettings, ResultMode
from occusense.reports.bodies import ReportBodies
from occusense.reports.clock import PeriodicSchedule

MAX_CATCH_UP = 1000  # periods emitted at once after a long gap in time


@dataclass(frozen=True)
class Report:
    """A report body and the feature (region, dwell, line, flow) it belongs to.

    ``kind`` "event": an event for automations (overcrowding, a long stay),
    not a VS121-P report: MQTT carries it on ``<topic>/events`` and the
    report file leaves it out, so what a VS121-P backend reads is unchanged.
    """

    feature: str
    body: dict[str, Any]
    kind: str = "report"


class _Period:
    """The current reporting interval of one feature."""

    def __init__(self, settings: ReportSettings, clock: DeviceClock, start: float):
        self.enabled = settings.periodic_enabled
        self.schedule = PeriodicSchedule(settings.periodic_scheme, settings.interval_s, clock)
        self.start = start
        self.due = self.schedule.next_due(start)
        self.counted = False  # did the feature count at all in this interval (P6)?

    def elapsed(self, ts: float, counting: bool) -> list[tuple[float, float]]:
        """Intervals ``(start, end)`` that ended at or before ``ts`` and in
        which the feature counted; outside its schedule a feature is silent."""
        done: list[tuple[float, float]] = []
        steps = 0
        while self.enabled and ts >= self.due and steps < MAX_CATCH_UP:
            if self.counted:
                done.append((self.start, self.due))
            self.counted = False
            self.start, self.due = self.due, self.schedule.next_due(self.due)
            steps += 1
        self.counted |= counting
        return done


class Reporter:
    """Turns counter state into VS121-P reports at the right moments.

    Dwell reports follow the region feature's report settings and schedule,
    as on the VS121-P, where dwell detection is part of region counting.

    Args:
        config: the device configuration (report settings per feature).
        analytics: the counters whose state is reported.
        bodies: builds the JSON bodies.
        start: timestamp the first intervals start at.
    """

    def __init__(
        self,
        config: DeviceConfig,
        analytics: Analytics,
        bodies: ReportBodies,
        start: float,
    ) -> None:
        self.analytics = analytics
        self.bodies = bodies
        rc, lc, pf = config.region_counting, config.line_crossing, config.people_flow
        self.region_settings, self.line_settings = rc.report, lc.report
        self.dwell_triggers = rc.dwell_trigger_enabled
        self.occupancy = rc.reporting_type is ReportingType.occupancy
        self._periods = {
            "region": _Period(rc.report, bodies.clock, start),
            "dwell": _Period(rc.report, bodies.clock, start),
            "line": _Period(lc.report, bodies.clock, start),
            "flow": _Period(pf.report, bodies.clock, start),
        }
        self._last_region: RegionState | None = None
        self._alarm: bool | None = None
        self._threshold = rc.overcrowding.threshold

    def on_frame(self, result: FrameResult) -> list[Report]:
        reports = self._triggers(result)
        a = self.analytics
        for start, end in self._elapsed("region", result, a.regions is not None):
            reports.append(self._region_interval(start, end))
        for start, end in self._elapsed("dwell", result, a.dwell is not None):
            assert a.dwell is not None
            rows = a.dwell.take_period(end)
            reports.append(Report("dwell", self.bodies.dwell_interval(start, end, rows)))
        for start, end in self._elapsed("line", result, a.line is not None):
            assert a.line is not None
            period = a.line.take_period()
            body = self.bodies.line_interval(start, end, period, a.line.cumulative)
            reports.append(Report("line", body))
        for start, end in self._elapsed("flow", result, a.flow is not None):
            assert a.flow is not None
            matrix = a.flow.take_period()
            reports.append(Report("flow", self.bodies.flow_interval(start, end, matrix)))
        return reports

    def _elapsed(self, feature: str, result: FrameResult, on: bool) -> list[tuple[float, float]]:
        if not on:
            return []
        schedule_key = "region" if feature == "dwell" else feature
        counting = result.active.get(schedule_key, True)
        return self._periods[feature].elapsed(result.timestamp, counting)

    def _region_interval(self, start: float, end: float) -> Report:
        regions = self.analytics.regions
        assert regions is not None
        peak = regions.take_period_max()
        body = self.bodies.region_interval(start, end, regions.state, peak, self.occupancy)
        return Report("region", body)

    def _triggers(self, result: FrameResult) -> list[Report]:
        reports = []
        if self.line_settings.trigger_enabled:
            for event in result.crossings:
                body = self.bodies.line_trigger(
                    event.timestamp, int(event.inward), int(not event.inward)
                )
                reports.append(Report("line", body))
        if result.dwells and self.dwell_triggers:
            body = self.bodies.dwell_trigger(result.timestamp, result.dwells)
            reports.append(Report("dwell", body))
        if result.region is not None and self.region_settings.report_by_result:
            if self._region_changed(result.region):
                body = self.bodies.region_trigger(result.timestamp, result.region, self.occupancy)
                reports.append(Report("region", body))
        if result.region is not None:
            self._last_region = result.region
        return reports + self._events(result)

    def _events(self, result: FrameResult) -> list[Report]:
        """Overcrowding as it starts and ends, and each stay that has just
        lasted ``long_stay_s``: events for automations."""
        events = []
        if result.alarm is not None and result.alarm != self._alarm:
            if result.alarm or self._alarm is not None:  # no "end" for a start that never was
                total = result.region.total if result.region is not None else 0
                body = self.bodies.overcrowding(result.timestamp, result.alarm, total,
                                                self._threshold)
                events.append(Report("region", body, "event"))
            self._alarm = result.alarm
        for person, region, start, last in result.long_stays:
            body = self.bodies.long_stay(result.timestamp, person, region, start, last)
            events.append(Report("dwell", body, "event"))
        return events

    def _region_changed(self, state: RegionState) -> bool:
        last = self._last_region
        if last is None:
            return False
        if self.region_settings.result_mode is ResultMode.every_change:
            return state != last
        return (state.total > 0) != (last.total > 0) or state.occupancy != last.occupancy
