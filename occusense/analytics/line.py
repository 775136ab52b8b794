"""Line crossing counting (SPEC L1, L2, L3, L6)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occusense.analytics.geometry import DirectedPolyline, PolygonZone


@dataclass(frozen=True)
class CrossingEvent:
    """One person crossing the line once (a trigger report, L3)."""

    person_id: int
    timestamp: float
    inward: bool
    segment: int


@dataclass
class LineTotals:
    """In/out counts; ``capacity`` is in - out (L2)."""

    inward: int = 0
    outward: int = 0

    @property
    def capacity(self) -> int:
        return self.inward - self.outward

    def add(self, event: CrossingEvent) -> None:
        if event.inward:
            self.inward += 1
        else:
            self.outward += 1


@dataclass
class _Anchor:
    point: np.ndarray
    last: np.ndarray
    sure: bool  # the anchor was outside the band: its side is known


class LineCounter:
    """Counts people crossing a directed polyline, once per real crossing.

    Each person keeps an *anchor*: their last position at least ``margin``
    away from the line. A crossing is counted only when the straight move
    from the anchor to a new position outside that band passes through a
    segment, so a point jittering on the line, a person walking along it or
    turning back inside the band counts nothing. Person IDs come from the
    :class:`~occusense.track.identity.IdentityStitcher`, so a track lost and
    re-acquired under a new tracker ID keeps its anchor. When a track ends
    inside the band on the far side of its anchor, the crossing counts. A
    person first seen inside the band has no known side yet: their first
    position outside it becomes the anchor and nothing is counted; a person
    first seen off the line (by ``min_margin_px``) has a known side at once.

    U-turn filter (L4): with ``uturn_area`` the area replaces the band — a
    person counts only once they have passed through the area from one side
    of the line to the other; turning back inside it counts nothing.

    Staff/deliverer filter (L5): after :meth:`staff_pulse` the next single
    crossing within ``staff_window_s`` is discarded.

    Args:
        line: the detection line in pixels.
        margin_ratio: the band's half-width as a fraction of the person's
            box height (people nearer the camera jitter more in pixels).
        min_margin_px: the band's smallest half-width.
        uturn_area: the U-turn filter's area in pixels, or None.
        staff_window_s: how long a staff pulse stays armed.

    Example:
        >>> counter = LineCounter(DirectedPolyline([(0, 100), (200, 100)]))
        >>> h = np.array([50.0])
        >>> _ = counter.update(0.0, np.array([1]), np.array([[90.0, 150.0]]), h)
        >>> [e.inward for e in counter.update(1.0, np.array([1]),
        ...                                   np.array([[95.0, 40.0]]), h)]
        [True]
    """

    def __init__(
        self,
        line: DirectedPolyline,
        margin_ratio: float = 0.1,
        min_margin_px: float = 2.0,
        uturn_area: PolygonZone | None = None,
        staff_window_s: float = 8.0,
    ) -> None:
        self.line = line
        self.margin_ratio = margin_ratio
        self.min_margin_px = min_margin_px
        self.uturn_area = uturn_area
        self.staff_window_s = staff_window_s
        self.staff_discarded = 0
        self._staff_until: float | None = None
        self.period = LineTotals()
        self.cumulative = LineTotals()
        self._anchors: dict[int, _Anchor] = {}

    def update(
        self, ts: float, ids: np.ndarray, points: np.ndarray, heights: np.ndarray
    ) -> list[CrossingEvent]:
        """Feed one frame's people; return the crossings it completed."""
        if len(ids) == 0:
            return []
        distance = self.line.distance(points)
        far = distance > np.maximum(self.min_margin_px, self.margin_ratio * heights)
        if self.uturn_area is not None:
            far &= ~self.uturn_area.contains(points)
        # a first sighting has no jitter history: off the line is side enough
        known = distance > self.min_margin_px
        movers, starts, ends = [], [], []
        for row, pid in enumerate(ids.tolist()):
            point = points[row].copy()
            anchor = self._anchors.get(pid)
            if anchor is None:
                self._anchors[pid] = _Anchor(point, point, bool(known[row]))
            elif not far[row]:
                anchor.last = point
            elif not anchor.sure:
                self._anchors[pid] = _Anchor(point, point, True)
            else:
                anchor.last = point
                movers.append(pid)
                starts.append(anchor.point)
                ends.append(point)
        return self._settle(ts, movers, starts, ends)

    def end(self, ts: float, ids: list[int]) -> list[CrossingEvent]:
        """Tracks ended: count a crossing left pending inside the band."""
        movers, starts, ends = [], [], []
        for pid in ids:
            anchor = self._anchors.pop(pid, None)
            if anchor is not None and anchor.sure:
                movers.append(pid)
                starts.append(anchor.point)
                ends.append(anchor.last)
        events = self._settle(ts, movers, starts, ends)
        for pid in ids:
            self._anchors.pop(pid, None)
        return events

    def _settle(self, ts, movers, starts, ends) -> list[CrossingEvent]:
        if not movers:
            return []
        start, end = np.asarray(starts), np.asarray(ends)
        events = []
        for pid, crossings, stop in zip(movers, self.line.crossings(start, end), end, strict=True):
            if pid in self._anchors:
                self._anchors[pid].point = stop.copy()
            for crossing in crossings:
                if self._staff_until is not None and ts <= self._staff_until:
                    self._staff_until = None  # this one was the staff member
                    self.staff_discarded += 1
                    continue
                event = CrossingEvent(pid, ts, crossing.inward, crossing.segment)
                self.period.add(event)
                self.cumulative.add(event)
                events.append(event)
        return events

    def staff_pulse(self, ts: float) -> None:
        """A DI pulse: discard the next single crossing within the window (L5)."""
        self._staff_until = ts + self.staff_window_s

    def forget(self) -> None:
        """Drop every person's anchor (the schedule paused counting)."""
        self._anchors.clear()

    def take_period(self) -> LineTotals:
        """The interval's counts (L2); the next interval starts at zero."""
        period, self.period = self.period, LineTotals()
        return period

    def reset_cumulative(self) -> None:
        self.cumulative = LineTotals()
