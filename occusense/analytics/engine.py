"""All counters of one camera, built from the device configuration.

Pure logic: people in, counts and events out. Nothing here knows of
reports, transports or the web. Each feature (region, line, flow) counts
only inside its weekly schedule (P6); when a schedule period starts, people
already in view are taken as first seen at that moment: they count in a
region at once, their dwell starts then, they have no line crossing behind
them, and a person already inside the flow area entered by its nearest
edge. When a period ends, open dwells end and are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from occusense.analytics.dwell import DwellRecord, DwellTimer
from occusense.analytics.flow import FlowCounter
from occusense.analytics.geometry import (
    DirectedPolyline,
    PolygonZone,
    anchors_and_heights,
    to_pixels,
)
from occusense.analytics.line import CrossingEvent, LineCounter
from occusense.analytics.regions import RegionCounter, RegionState
from occusense.clock import DeviceClock
from occusense.config.features import AlarmTrigger, AreaMode, OvercrowdingAlarm
from occusense.config.model import DeviceConfig
from occusense.config.schedule import WEEKDAYS, ResetDay, ResetSchedule
from occusense.track import TrackedPeople

FEATURES = ("region", "line", "flow")


@dataclass
class FrameResult:
    """What one frame changed.

    Attributes:
        region: region counts, or None when region counting is off or
            outside its schedule.
        alarm: the overcrowding alarm's state (True = DO open), or None when
            the alarm is off.
        active: which features were counting at this frame.
    """

    timestamp: float
    region: RegionState | None = None
    crossings: list[CrossingEvent] = field(default_factory=list)
    flows: list[tuple[int, str, str]] = field(default_factory=list)
    dwells: list[DwellRecord] = field(default_factory=list)
    alarm: bool | None = None
    active: dict[str, bool] = field(default_factory=dict)
    # stays that have just passed dwell.long_stay_s: (person, region, start, last inside)
    long_stays: list[tuple[int, int, float, float]] = field(default_factory=list)


class Analytics:
    """Region, dwell, line and flow counters for one camera (R, L, F, P6).

    Args:
        config: the device configuration; disabled features get no counter.
        width, height: frame size, to turn relative shapes into pixels.
    """

    def __init__(self, config: DeviceConfig, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.clock = DeviceClock(config.time.timezone)
        self.centre = config.uses_box_centre
        self.regions = _region_counter(config, width, height)
        self.dwell = _dwell_timer(config, self.regions)
        self.line = _line_counter(config, width, height)
        self.flow = _flow_counter(config, width, height)
        self.alarm = config.region_counting.overcrowding
        self.staff_filter = config.line_crossing.staff_filter
        rc, lc, pf = config.region_counting, config.line_crossing, config.people_flow
        self._schedules = {"region": rc.schedule, "line": lc.schedule, "flow": pf.schedule}
        self._resets = {"region": rc.reset, "line": lc.reset}
        self._was_active = dict.fromkeys(FEATURES, True)
        self._schedule_minute: int | None = None
        self._schedule_state: dict[str, bool] = {}
        self._last_ts: float | None = None

    def update(self, ts: float, people: TrackedPeople, staff_pulse: bool = False) -> FrameResult:
        """Feed one frame's people; ``staff_pulse`` is a DI rising edge (L5)."""
        points, heights = anchors_and_heights(people.boxes, self.centre)
        result = FrameResult(ts)
        active = self._gate(ts, result)
        self._apply_resets(ts)
        if self.regions and active["region"]:
            result.region = self.regions.update(ts, people.ids, points)
            if self.dwell:
                result.dwells += self.dwell.update(ts, people.ids, self.regions.inside)
                result.long_stays = self.dwell.long_stays()
            result.alarm = overcrowded(self.alarm, result.region)
        # where confirmed tracks started (rare: skipped, not computed empty,
        # it is a third of the per-frame cost with few people)
        first = (
            anchors_and_heights(people.first_boxes, self.centre) if len(people.first_ids) else None
        )
        if self.line and active["line"]:
            if staff_pulse and self.staff_filter:
                self.line.staff_pulse(ts)
            if first is not None:
                result.crossings += self.line.update(ts, people.first_ids, *first)
            result.crossings += self.line.update(ts, people.ids, points, heights)
            result.crossings += self.line.end(ts, people.ended)
        if self.flow and active["flow"]:
            if first is not None:
                result.flows += self.flow.update(people.first_ids, first[0])
            result.flows += self.flow.update(people.ids, points)
            result.flows += self.flow.end(people.ended)
        self._last_ts = ts
        return result

    def finish(self, ts: float, ended: list[int]) -> FrameResult:
        """The source ended: settle every open track and dwell."""
        result = self.update(ts, TrackedPeople(ended=ended))
        if self.dwell:
            result.dwells += self.dwell.end_all()
        return result

    def _gate(self, ts: float, result: FrameResult) -> dict[str, bool]:
        """Schedules (P6): switch features on and off, forgetting people."""
        minute = int(ts // 60)  # periods are whole minutes: decide once a minute
        if minute != self._schedule_minute:
            local = self.clock.local(ts)
            self._schedule_minute = minute
            self._schedule_state = {f: self._schedules[f].is_active(local) for f in FEATURES}
        active = self._schedule_state
        for feature in FEATURES:
            if self._was_active[feature] and not active[feature]:
                result.dwells += self._pause(feature)
        self._was_active = active
        result.active = active
        return active

    def _pause(self, feature: str) -> list[DwellRecord]:
        closed: list[DwellRecord] = []
        if feature == "region" and self.regions:
            self.regions.forget()
            if self.dwell:
                closed = self.dwell.end_all()
        elif feature == "line" and self.line:
            self.line.forget()
        elif feature == "flow" and self.flow:
            self.flow.forget()
        return closed

    def _apply_resets(self, ts: float) -> None:
        """R8: reset cumulative counts when a scheduled reset time has passed."""
        if self._last_ts is None:
            return
        if self.line and reset_due(self._resets["line"], self.clock, self._last_ts, ts):
            self.line.reset_cumulative()
        if self.dwell and reset_due(self._resets["region"], self.clock, self._last_ts, ts):
            self.dwell.reset_stats(ts)


def overcrowded(alarm: OvercrowdingAlarm, state: RegionState) -> bool | None:
    """R7: above the threshold (total, or any one region) -> True."""
    if not alarm.enabled:
        return None
    if alarm.trigger is AlarmTrigger.number_in_area and state.per_region:
        return max(state.per_region) > alarm.threshold
    return state.total > alarm.threshold


def reset_due(reset: ResetSchedule, clock: DeviceClock, before: float, now: float) -> bool:
    """Whether a reset moment of ``reset`` lies in ``(before, now]``."""
    if not reset.enabled:
        return False
    local = clock.local(now)
    moment = local.replace(hour=reset.hour, minute=reset.minute, second=0, microsecond=0)
    if moment > local:
        moment -= timedelta(days=1)
    if reset.day is not ResetDay.everyday:
        while WEEKDAYS[(moment.weekday() + 1) % 7] != reset.day.value:
            moment -= timedelta(days=1)
    return before < moment.timestamp() <= now


def _region_counter(config: DeviceConfig, w: int, h: int) -> RegionCounter | None:
    rc = config.region_counting
    if not rc.enabled:
        return None
    zones = []
    if rc.customize_area:
        zones = [PolygonZone(to_pixels(r.points, w, h)) for r in rc.regions]
    return RegionCounter(zones, rc.area_mode is AreaMode.mapped, rc.debounce_s)


def _dwell_timer(config: DeviceConfig, regions: RegionCounter | None) -> DwellTimer | None:
    rc = config.region_counting
    if regions is None or not rc.dwell.enabled:
        return None
    return DwellTimer(regions.columns, rc.dwell.min_dwell_s, rc.debounce_s, rc.dwell.max_dwell_s,
                      rc.dwell.long_stay_s)


def _line_counter(config: DeviceConfig, w: int, h: int) -> LineCounter | None:
    lc = config.line_crossing
    if not lc.enabled:
        return None
    area = PolygonZone(to_pixels(lc.uturn_area, w, h)) if lc.uturn_filter else None
    return LineCounter(
        DirectedPolyline(to_pixels(lc.line.points, w, h)),
        uturn_area=area,
        staff_window_s=lc.staff_window_s,
    )


def _flow_counter(config: DeviceConfig, w: int, h: int) -> FlowCounter | None:
    pf = config.people_flow
    if not pf.enabled:
        return None
    return FlowCounter(to_pixels(pf.area, w, h), pf.active_edge_names)
