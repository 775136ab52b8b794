"""Line crossing counting (SPEC L1, L2, L3, L6)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from occusense.analytics import kernels
from occusense.analytics.geometry import DirectedPolyline, PolygonZone, as_points
from occusense.analytics.table import PersonTable


@dataclass(frozen=True)
class CrossingEvent:
    """One person crossing the line once (a trigger report, L3)."""

    person_id: int
    timestamp: float
    inward: bool
    segment: int


@dataclass
class LineTotals:
    """In/out counts; ``capacity`` is in - out (L2). ``since``: when these
    counts began (a reset, a line drawn anew), set at the first frame after."""

    inward: int = 0
    outward: int = 0
    since: float | None = field(default=None, compare=False)

    @property
    def capacity(self) -> int:
        return self.inward - self.outward

    def add(self, event: CrossingEvent) -> None:
        if event.inward:
            self.inward += 1
        else:
            self.outward += 1


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
    person first seen has no jitter history: off the line by
    ``min_margin_px`` is side enough, and that position is the anchor. A
    person first seen on the line (within ``min_margin_px``) has no side yet:
    their first position off it becomes the anchor, and nothing is counted.

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
        self.margin_ratio = float(margin_ratio)
        self.min_margin_px = float(min_margin_px)
        self.uturn_area = uturn_area
        self.staff_window_s = staff_window_s
        self.staff_discarded = 0
        self._staff_until: float | None = None
        self.period = LineTotals()
        self.cumulative = LineTotals()
        self._table = PersonTable()
        # per row: anchor x, y; last position x, y; 1.0 once the side is known
        self._state = np.zeros((self._table.capacity, 5))
        self._found = self._crossings_buffer()
        # the U-turn area as the kernel takes it; no zone (starts [0]) = none
        self._uturn = (
            uturn_area.arrays
            if uturn_area is not None
            else (np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros((0, 4)))
        )

    def update(
        self, ts: float, ids: np.ndarray, points: np.ndarray, heights: np.ndarray
    ) -> list[CrossingEvent]:
        """Feed one frame's people; return the crossings it completed."""
        if len(ids) == 0:
            return []
        ids = ids.astype(np.int64, copy=False)
        points, heights = as_points(points), heights.astype(np.float64, copy=False)
        while (found := self._step(ids, points, heights)) == kernels.NO_ROOM:
            self._table.reserve(len(ids))
            self._state = self._table.fit(self._state, 0.0)
            self._found = self._crossings_buffer()
        return self._events(ts, ids, found) if found else []

    def _step(self, ids: np.ndarray, points: np.ndarray, heights: np.ndarray) -> int:
        return int(kernels.line_update(
            self._table.arrays, self._state, self.line.points, ids, points, heights,
            self.margin_ratio, self.min_margin_px, self._uturn, self._found,
        ))

    def end(self, ts: float, ids: list[int]) -> list[CrossingEvent]:
        """Tracks ended: count a crossing left pending inside the band."""
        if not ids:
            return []
        pids = np.array(ids, dtype=np.int64)
        if len(pids) > self._table.capacity:  # unknown people among them
            self._found = np.empty((len(pids) * self.line.segments, 3), dtype=np.int64)
        found = kernels.line_end(
            self._table.arrays, self._state, self.line.points, pids, self._found
        )
        return self._events(ts, pids, found) if found else []

    def _crossings_buffer(self) -> np.ndarray:
        """Room for every person crossing every segment in one frame."""
        return np.empty((self._table.capacity * self.line.segments, 3), dtype=np.int64)

    def _events(self, ts: float, pids: np.ndarray, found: int) -> list[CrossingEvent]:
        """Crossings the kernel found -> events, less a staff member's (L5)."""
        events: list[CrossingEvent] = []
        for n, segment, is_in in self._found[:found].tolist():
            if self._staff_until is not None and ts <= self._staff_until:
                self._staff_until = None  # this one was the staff member
                self.staff_discarded += 1
                continue
            event = CrossingEvent(int(pids[n]), ts, bool(is_in), segment)
            self.period.add(event)
            self.cumulative.add(event)
            events.append(event)
        return events

    def staff_pulse(self, ts: float) -> None:
        """A DI pulse: discard the next single crossing within the window (L5)."""
        self._staff_until = ts + self.staff_window_s

    def forget(self) -> None:
        """Drop every person's anchor (the schedule paused counting)."""
        self._table.clear()
        self._state[:, 4] = 0.0

    def take_period(self) -> LineTotals:
        """The interval's counts (L2); the next interval starts at zero."""
        period, self.period = self.period, LineTotals()
        return period

    def reset_cumulative(self) -> None:
        self.cumulative = LineTotals()
