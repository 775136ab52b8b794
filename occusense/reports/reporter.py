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
from occusense.config.features import ReportingType
from occusense.config.model import DeviceConfig
from occusense.config.reporting import ReportSettings, ResultMode
from occusense.reports.bodies import ReportBodies
from occusense.reports.clock import DeviceClock, PeriodicSchedule

MAX_CATCH_UP = 1000  # periods emitted at once after a long gap in time


@dataclass(frozen=True)
class Report:
    """A report body and the feature (region, dwell, line, flow) it belongs to."""

    feature: str
    body: dict[str, Any]


class _Period:
    """The current reporting interval of one feature."""

    def __init__(self, settings: ReportSettings, clock: DeviceClock, start: float):
        self.enabled = settings.periodic_enabled
        self.schedule = PeriodicSchedule(settings.periodic_scheme, settings.interval_s, clock)
        self.start = start
        self.due = self.schedule.next_due(start)

    def elapsed(self, ts: float) -> list[tuple[float, float]]:
        """Intervals ``(start, end)`` that ended at or before ``ts``."""
        done: list[tuple[float, float]] = []
        while self.enabled and ts >= self.due and len(done) < MAX_CATCH_UP:
            done.append((self.start, self.due))
            self.start, self.due = self.due, self.schedule.next_due(self.due)
        return done


class Reporter:
    """Turns counter state into VS121-P reports at the right moments.

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
        self.occupancy = rc.reporting_type is ReportingType.occupancy
        self._periods = {
            "region": _Period(rc.report, bodies.clock, start),
            "line": _Period(lc.report, bodies.clock, start),
            "flow": _Period(pf.report, bodies.clock, start),
        }
        self._last_region: RegionState | None = None

    def on_frame(self, result: FrameResult) -> list[Report]:
        ts = result.timestamp
        reports = self._triggers(result)
        if self.analytics.regions:
            for start, end in self._periods["region"].elapsed(ts):
                reports.append(self._region_interval(start, end))
        if self.analytics.line:
            for start, end in self._periods["line"].elapsed(ts):
                period = self.analytics.line.take_period()
                cumulative = self.analytics.line.cumulative
                body = self.bodies.line_interval(start, end, period, cumulative)
                reports.append(Report("line", body))
        if self.analytics.flow:
            for start, end in self._periods["flow"].elapsed(ts):
                matrix = self.analytics.flow.take_period()
                reports.append(Report("flow", self.bodies.flow_interval(start, end, matrix)))
        return reports

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
        if result.region is not None and self.region_settings.report_by_result:
            if self._region_changed(result.region):
                body = self.bodies.region_trigger(result.timestamp, result.region, self.occupancy)
                reports.append(Report("region", body))
        if result.region is not None:
            self._last_region = result.region
        return reports

    def _region_changed(self, state: RegionState) -> bool:
        last = self._last_region
        if last is None:
            return False
        if self.region_settings.result_mode is ResultMode.every_change:
            return state != last
        return (state.total > 0) != (last.total > 0) or state.occupancy != last.occupancy
