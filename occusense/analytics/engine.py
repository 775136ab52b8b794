"""All counters of one camera, built from the device configuration.

Pure logic: people in, counts and events out. Nothing here knows of
reports, transports or the web.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from occusense.analytics.flow import FlowCounter
from occusense.analytics.geometry import (
    DirectedPolyline,
    PolygonZone,
    anchor_points,
    to_pixels,
)
from occusense.analytics.line import CrossingEvent, LineCounter
from occusense.analytics.regions import RegionCounter, RegionState
from occusense.config.device import PositionRule
from occusense.config.features import AreaMode
from occusense.config.model import DeviceConfig
from occusense.track import TrackedPeople


@dataclass
class FrameResult:
    """What one frame changed."""

    timestamp: float
    region: RegionState | None = None
    crossings: list[CrossingEvent] = field(default_factory=list)
    flows: list[tuple[int, str, str]] = field(default_factory=list)


class Analytics:
    """Region, line and flow counters for one camera (R, L, F).

    Args:
        config: the device configuration; disabled features get no counter.
        width, height: frame size, to turn relative shapes into pixels.
    """

    def __init__(self, config: DeviceConfig, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.centre = config.general.position is PositionRule.centre
        self.regions = _region_counter(config, width, height)
        self.line = _line_counter(config, width, height)
        self.flow = _flow_counter(config, width, height)

    def update(self, ts: float, people: TrackedPeople) -> FrameResult:
        points = anchor_points(people.boxes, self.centre)
        heights = people.boxes[:, 3] - people.boxes[:, 1]
        result = FrameResult(ts)
        if self.regions:
            result.region = self.regions.update(ts, people.ids, points)
        if self.line:
            result.crossings = self.line.update(ts, people.ids, points, heights)
            result.crossings += self.line.end(ts, people.ended)
        if self.flow:
            result.flows = self.flow.update(people.ids, points)
            result.flows += self.flow.end(people.ended)
        return result

    def finish(self, ts: float, ended: list[int]) -> FrameResult:
        """The source ended: settle every open track."""
        return self.update(ts, TrackedPeople(ended=ended))


def _region_counter(config: DeviceConfig, w: int, h: int) -> RegionCounter | None:
    rc = config.region_counting
    if not rc.enabled:
        return None
    zones = []
    if rc.customize_area:
        zones = [PolygonZone(to_pixels(r.points, w, h)) for r in rc.regions]
    return RegionCounter(zones, rc.area_mode is AreaMode.mapped, rc.debounce_s)


def _line_counter(config: DeviceConfig, w: int, h: int) -> LineCounter | None:
    lc = config.line_crossing
    if not lc.enabled:
        return None
    return LineCounter(DirectedPolyline(to_pixels(lc.line.points, w, h)))


def _flow_counter(config: DeviceConfig, w: int, h: int) -> FlowCounter | None:
    pf = config.people_flow
    if not pf.enabled:
        return None
    return FlowCounter(to_pixels(pf.area, w, h), pf.active_edge_names)
