"""Region people counting (SPEC R1-R5)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from occusense.analytics.geometry import PolygonZone
from occusense.analytics.table import PersonTable


@dataclass(frozen=True)
class RegionState:
    """Counts at one instant.

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


class RegionRaster:
    """Which regions each pixel of the frame belongs to, as a bit mask.

    Looking a point up in a label image costs the same for 1 or 16 regions
    and needs no per-region call; shapely's ``contains_xy`` per region was
    the largest cost of the analytics (measured: bench/analytics_bench.py).
    The polygons are filled with OpenCV; a point on an edge may fall either
    way, as on any pixel grid.
    """

    def __init__(self, zones: list[PolygonZone], width: int, height: int) -> None:
        self.width, self.height = width, height
        self.labels = np.zeros((height, width), dtype=np.uint32)
        for bit, zone in enumerate(zones):
            layer = np.zeros((height, width), dtype=np.uint8)
            cv2.fillPoly(layer, [np.round(np.array(zone.points)).astype(np.int32)], 1)
            self.labels |= layer.astype(np.uint32) << np.uint32(bit)
        self.bits = np.uint32(1) << np.arange(len(zones), dtype=np.uint32)

    def lookup(self, points: np.ndarray) -> np.ndarray:
        """``(N, regions)`` booleans; points outside the frame are in none."""
        x = np.floor(points[:, 0]).astype(np.int64)
        y = np.floor(points[:, 1]).astype(np.int64)
        inside = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
        labels = np.zeros(len(points), dtype=np.uint32)
        labels[inside] = self.labels[y[inside], x[inside]]
        return (labels[:, None] & self.bits[None, :]) != 0


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
        frame_size: ``(width, height)``; with it membership is looked up in
            a :class:`RegionRaster` instead of testing each polygon.

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
        frame_size: tuple[int, int] | None = None,
    ) -> None:
        self.zones = zones
        self.mapped = mapped
        self.debounce_s = debounce_s
        self.period_max = 0
        self.columns = len(zones) if (zones and mapped) else 1
        self.raster = RegionRaster(zones, *frame_size) if (zones and frame_size) else None
        self._table = PersonTable()
        self._last_in = np.full((self._table.capacity, self.columns), -np.inf)
        self.state = RegionState(0, (0,) * self.mapped_regions)

    @property
    def mapped_regions(self) -> int:
        return len(self.zones) if self.mapped else 0

    def membership(self, points: np.ndarray) -> np.ndarray:
        """``(N, columns)`` booleans: which counted area each point is in."""
        if not self.zones:
            return np.ones((len(points), 1), dtype=bool)
        if self.raster is not None:
            inside = self.raster.lookup(points)
        else:
            inside = np.stack([z.contains(points) for z in self.zones], axis=1)
        if self.mapped:
            return inside
        return np.logical_not(inside.any(axis=1, keepdims=True))

    def update(
        self,
        ts: float,
        ids: np.ndarray,
        points: np.ndarray,
        inside: np.ndarray | None = None,
    ) -> RegionState:
        """Feed one frame; ``inside`` is :meth:`membership` if already known."""
        if inside is None:
            inside = self.membership(points)
        counted = inside.any(axis=1)
        if counted.any():
            rows, _ = self._table.rows(ids[counted])
            self._last_in = self._table.fit(self._last_in, -np.inf)
            block = self._last_in[rows]
            block[inside[counted]] = ts
            self._last_in[rows] = block
        return self._recount(ts)

    def _recount(self, ts: float) -> RegionState:
        active = self._last_in >= ts - self.debounce_s
        present = active.any(axis=1)
        gone = self._table.used() & ~present
        if gone.any():
            self._table.release(np.flatnonzero(gone))
            self._last_in[gone] = -np.inf
        counts = active.sum(axis=0)
        per_region = tuple(int(c) for c in counts) if self.mapped_regions else ()
        self.state = RegionState(int(present.sum()), per_region)
        self.period_max = max(self.period_max, self.state.total)
        return self.state

    def take_period_max(self) -> int:
        """The interval's highest total (R5); the next starts from the current."""
        peak, self.period_max = self.period_max, self.state.total
        return peak

    def forget(self) -> None:
        """Nobody is counted any more (the schedule paused counting)."""
        self._table.clear()
        self._last_in[:] = -np.inf
        self.state = RegionState(0, (0,) * self.mapped_regions)
