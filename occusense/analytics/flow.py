"""People flow analysis (SPEC F1, F2)."""

from __future__ import annotations

import numpy as np

from occusense.analytics.geometry import DirectedPolyline, PolygonZone


class FlowCounter:
    """Counts people by the edge they entered a convex area through and the
    edge they left through (A-A ... D-D).

    Edge ``i`` runs from corner ``i`` to corner ``i + 1`` and takes the
    ``i``-th name. The edge a person passed is the edge their move from
    outside to inside (or back) intersects. A person first seen inside the
    area entered through the nearest edge; a track that ends inside leaves
    through the edge nearest its last position (both are documented choices:
    a detector often picks a person up a little late and loses them a little
    early near the area's border).

    Args:
        corners: 3 or 4 pixel points of a convex area.
        names: edge names, one per edge.

    Example:
        >>> flow = FlowCounter([(0, 0), (100, 0), (100, 100), (0, 100)], "ABCD")
        >>> _ = flow.update(np.array([1]), np.array([[50.0, -10.0]]))
        >>> _ = flow.update(np.array([1]), np.array([[50.0, 50.0]]))
        >>> flow.update(np.array([1]), np.array([[50.0, 110.0]]))
        [(1, 'A', 'C')]
    """

    def __init__(self, corners: list[tuple[float, float]], names) -> None:
        self.names = list(names)[: len(corners)]
        self.zone = PolygonZone(corners)
        self.edges = DirectedPolyline([*corners, corners[0]])
        self.period = self._empty()
        self._entry: dict[int, int] = {}
        self._last: dict[int, np.ndarray] = {}

    def _empty(self) -> dict[str, int]:
        return {f"{a}-{b}": 0 for a in self.names for b in self.names}

    def _nearest_edge(self, point: np.ndarray) -> int:
        return self.edges.nearest_segment(point)

    def _edge_crossed(self, start: np.ndarray, end: np.ndarray) -> int:
        hits = self.edges.crossings(start[None], end[None])[0]
        return hits[0].segment if hits else self._nearest_edge(end)

    def update(self, ids: np.ndarray, points: np.ndarray) -> list[tuple[int, str, str]]:
        """Feed one frame; return ``(person, entry, exit)`` for each exit."""
        inside = self.zone.contains(points)
        done = []
        for row, pid in enumerate(ids.tolist()):
            point, last = points[row], self._last.get(pid)
            was_inside = pid in self._entry
            if inside[row] and not was_inside:
                self._entry[pid] = (
                    self._nearest_edge(point) if last is None else self._edge_crossed(last, point)
                )
            elif was_inside and not inside[row]:
                exit_edge = (
                    self._nearest_edge(point) if last is None else self._edge_crossed(last, point)
                )
                done.append(self._count(pid, exit_edge))
            self._last[pid] = point.copy()
        return done

    def end(self, ids: list[int]) -> list[tuple[int, str, str]]:
        done = []
        for pid in ids:
            last = self._last.pop(pid, None)
            if pid in self._entry and last is not None:
                done.append(self._count(pid, self._nearest_edge(last)))
            self._entry.pop(pid, None)
        return done

    def _count(self, pid: int, exit_edge: int) -> tuple[int, str, str]:
        entry = self._entry.pop(pid)
        key = (self.names[entry], self.names[exit_edge])
        self.period[f"{key[0]}-{key[1]}"] += 1
        return (pid, *key)

    def forget(self) -> None:
        """Drop everyone in the area without counting (schedule paused)."""
        self._entry.clear()
        self._last.clear()

    def take_period(self) -> dict[str, int]:
        period, self.period = self.period, self._empty()
        return period
