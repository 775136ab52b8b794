"""Line crossing counting (SPEC L1, L2, L3, L6)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occusense.analytics.geometry import DirectedPolyline, PolygonZone
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
        self._table = PersonTable()
        self._anchor = np.zeros((self._table.capacity, 2))
        self._last = np.zeros((self._table.capacity, 2))
        self._sure = np.zeros(self._table.capacity, dtype=bool)

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
        rows, new = self._rows(ids)
        self._last[rows] = points
        fresh = new | (far & ~self._sure[rows])  # new, or first time out of the band
        self._anchor[rows[fresh]] = points[fresh]
        self._sure[rows[new]] = known[new]
        self._sure[rows[fresh & ~new]] = True
        moving = far & ~fresh
        return self._settle(ts, ids[moving], rows[moving])

    def end(self, ts: float, ids: list[int]) -> list[CrossingEvent]:
        """Tracks ended: count a crossing left pending inside the band."""
        known = [(pid, r) for pid in ids if (r := self._table.row(pid)) is not None]
        if not known:
            return []
        pids = np.array([pid for pid, _ in known], dtype=np.int64)
        rows = np.array([r for _, r in known], dtype=np.int64)
        sure = self._sure[rows]
        events = self._settle(ts, pids[sure], rows[sure])
        self._table.release(rows)
        self._sure[rows] = False
        return events

    def _rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, new = self._table.rows(ids)
        if self._table.grown:
            self._anchor = self._table.fit(self._anchor, 0.0)
            self._last = self._table.fit(self._last, 0.0)
            self._sure = self._table.fit(self._sure, False)
            self._table.grown = False
        return rows, new

    def _settle(self, ts: float, pids: np.ndarray, rows: np.ndarray) -> list[CrossingEvent]:
        """Count the moves anchor -> last of ``rows``; their anchors move on."""
        if len(rows) == 0:
            return []
        start, end = self._anchor[rows], self._last[rows]
        self._anchor[rows] = end
        maybe = self.line.may_cross(start, end)
        events: list[CrossingEvent] = []
        if not maybe.any():
            return events
        hits = self.line.crossings(start[maybe], end[maybe])
        for pid, crossings in zip(pids[maybe].tolist(), hits, strict=True):
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
        self._table.clear()
        self._sure[:] = False

    def take_period(self) -> LineTotals:
        """The interval's counts (L2); the next interval starts at zero."""
        period, self.period = self.period, LineTotals()
        return period

    def reset_cumulative(self) -> None:
        self.cumulative = LineTotals()
