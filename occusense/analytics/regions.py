"""Region people counting (SPEC R1-R5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occusense.analytics.geometry import PolygonZone


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
        self, zones: list[PolygonZone], mapped: bool = True, debounce_s: float = 2.0
    ) -> None:
        self.zones = zones
        self.mapped = mapped
        self.debounce_s = debounce_s
        self.period_max = 0
        self._last_in: dict[int, np.ndarray] = {}
        self.columns = len(zones) if (zones and mapped) else 1
        self.state = RegionState(0, (0,) * self.mapped_regions)

    @property
    def mapped_regions(self) -> int:
        return len(self.zones) if self.mapped else 0

    def membership(self, points: np.ndarray) -> np.ndarray:
        """``(N, columns)`` booleans: which counted area each point is in."""
        if not self.zones:
            return np.ones((len(points), 1), dtype=bool)
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
        for row, pid in enumerate(ids.tolist()):
            seen = self._last_in.get(pid)
            if seen is None:
                if not inside[row].any():
                    continue
                seen = self._last_in[pid] = np.full(self.columns, -np.inf)
            seen[inside[row]] = ts
        return self._recount(ts)

    def _recount(self, ts: float) -> RegionState:
        horizon = ts - self.debounce_s
        counts = np.zeros(self.columns, dtype=int)
        total = 0
        for pid in list(self._last_in):
            active = self._last_in[pid] >= horizon
            if not active.any():
                del self._last_in[pid]
                continue
            counts += active
            total += 1
        per_region = tuple(int(c) for c in counts) if self.mapped_regions else ()
        self.state = RegionState(total, per_region)
        self.period_max = max(self.period_max, total)
        return self.state

    def take_period_max(self) -> int:
        """The interval's highest total (R5); the next starts from the current."""
        peak, self.period_max = self.period_max, self.state.total
        return peak

    def forget(self) -> None:
        """Nobody is counted any more (the schedule paused counting)."""
        self._last_in.clear()
        self.state = RegionState(0, (0,) * self.mapped_regions)

    def people(self) -> list[int]:
        """IDs of the people counted now."""
        return list(self._last_in)
