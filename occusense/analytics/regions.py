"""Region people counting (SPEC R1-R5)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from occusense.analytics import kernels
from occusense.analytics.geometry import PolygonZone, ZoneSet, as_points
from occusense.analytics.table import PersonTable


class RegionState(NamedTuple):
    """Counts at one instant (a tuple: made every frame, compared by value).

    Attributes:
        total: people in the detection area (R1), each counted once.
        per_region: people per mapped region, in region order (empty when
            the area is the whole frame or the non-mapped remainder).
    """

    total: int
    per_region: tuple[int, ...]

    @property
    def occupancy(self) -> tuple[int, ...]:
        return tuple(int(n > 0) for n in self.per_region)


class RegionCounter:
    """Counts people in polygon regions with a debounce (R1-R5).

    The detection area is, by ``mode``: the mapped regions (people inside
    any region; each region also counted alone), the non-mapped remainder
    (people outside every region), or the whole frame when there are no
    regions. A person stays counted in a region until they have been out of
    it — or unseen — for ``debounce_s`` (R4), so one missed detection does
    not make the count flicker. ``period_max`` is the highest total since
    the last :meth:`take_period_max` (R5).

    Args:
        zones: regions in pixels; numbered 1.. in this order.
        mapped: True for Mapped, False for Non-mapped.
        debounce_s: seconds a person stays counted after leaving.

    Example:
        >>> room = PolygonZone([(0, 0), (100, 0), (100, 100), (0, 100)])
        >>> counter = RegionCounter([room], mapped=True, debounce_s=2.0)
        >>> counter.update(0.0, np.array([7]), np.array([[50.0, 50.0]])).total
        1
        >>> counter.update(1.0, np.array([], int), np.zeros((0, 2))).total
        1
        >>> counter.update(2.5, np.array([], int), np.zeros((0, 2))).total
        0
    """

    def __init__(
        self,
        zones: list[PolygonZone],
        mapped: bool = True,
        debounce_s: float = 2.0,
    ) -> None:
        self.zones = zones
        self.mapped = mapped
        self.debounce_s = float(debounce_s)
        self.period_max = 0
        self.columns = len(zones) if (zones and mapped) else 1
        self._zones = ZoneSet(zones)
        self._mode = (
            kernels.WHOLE_FRAME if not zones else kernels.MAPPED if mapped else kernels.NON_MAPPED
        )
        self._table = PersonTable()
        self._last_in = np.full((self._table.capacity, self.columns), -np.inf)
        self._counts = np.zeros(self.columns, dtype=np.int64)
        self._inside = np.zeros(self._last_in.shape, dtype=bool)
        # the last frame's membership, ``(N, columns)``, valid until the next
        self.inside = self._inside[:0]
        self.state = RegionState(0, (0,) * self.mapped_regions)

    @property
    def mapped_regions(self) -> int:
        return len(self.zones) if self.mapped else 0

    def membership(self, points: np.ndarray) -> np.ndarray:
        """``(N, columns)`` booleans: which counted area each point is in."""
        return kernels.area_membership(*self._zones.arrays, as_points(points), self._mode)

    def update(
        self,
        ts: float,
        ids: np.ndarray,
        points: np.ndarray,
        inside: np.ndarray | None = None,
    ) -> RegionState:
        """Feed one frame; ``inside`` is :meth:`membership` if already known.

        The frame's membership is left in :attr:`inside` (for the dwell timer).
        """
        ids = ids.astype(np.int64, copy=False)
        while (total := self._count(float(ts), ids, points, inside)) == kernels.NO_ROOM:
            self._grow(len(ids))
        per_region = tuple(self._counts.tolist()) if self.mapped_regions else ()
        self.state = RegionState(total, per_region)
        self.period_max = max(self.period_max, total)
        return self.state

    def _count(
        self, ts: float, ids: np.ndarray, points: np.ndarray, inside: np.ndarray | None
    ) -> int:
        if inside is None:  # one call: membership into the buffer, then counting
            total = kernels.region_frame(
                self._table.arrays, ts, self.debounce_s, ids, as_points(points),
                *self._zones.arrays, self._mode, self._last_in, self._counts, self._inside,
            )
            self.inside = self._inside[: len(ids)]
            return int(total)
        self.inside = inside
        return int(kernels.region_update(
            self._table.arrays, ts, self.debounce_s, ids, inside, self._last_in, self._counts
        ))

    def _grow(self, people: int) -> None:
        self._table.reserve(people)
        self._last_in = self._table.fit(self._last_in, -np.inf)
        self._inside = np.zeros(self._last_in.shape, dtype=bool)

    def take_period_max(self) -> int:
        """The interval's highest total (R5); the next starts from the current."""
        peak, self.period_max = self.period_max, self.state.total
        return peak

    def forget(self) -> None:
        """Nobody is counted any more (the schedule paused counting)."""
        self._table.clear()
        self._last_in[:] = -np.inf
        self.state = RegionState(0, (0,) * self.mapped_regions)
