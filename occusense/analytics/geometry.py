"""Geometry the counters work on, in frame pixels.

The predicates themselves (point in polygon, distance to a polyline,
segment crossings) are compiled loops in :mod:`occusense.analytics.kernels`
(why: see there); these classes hold the shapes in the arrays they take.
Shapes are validated where they are configured (shapely, in the config
model), so they are simple polygons and polylines here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from occusense.analytics import kernels

PointList = Sequence[tuple[float, float]]


def to_pixels(points: PointList, width: int, height: int) -> list[tuple[float, float]]:
    """Relative (0..1) config points -> pixel points for a ``width x height`` frame."""
    return [(x * width, y * height) for x, y in points]


def anchor_points(boxes: np.ndarray, centre: bool) -> np.ndarray:
    """A person's point (SPEC L1): bottom-centre of the box, or its centre."""
    return anchors_and_heights(boxes, centre)[0]


def anchors_and_heights(boxes: np.ndarray, centre: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each person's point (float64, as the counters take it) and box height."""
    return kernels.anchors(np.ascontiguousarray(boxes).reshape(-1, 4), centre)


class PolygonZone:
    """A closed polygon that answers "which of these points are inside?".

    Args:
        points: the polygon's corners in pixels, in drawing order.

    Example:
        >>> zone = PolygonZone([(0, 0), (10, 0), (10, 10), (0, 10)])
        >>> zone.contains(np.array([[5.0, 5.0], [20.0, 5.0]])).tolist()
        [True, False]
    """

    def __init__(self, points: PointList) -> None:
        self.points = [tuple(map(float, p)) for p in points]
        self.vertices = np.array(self.points, dtype=np.float64).reshape(-1, 2)
        self.starts = np.array([0, len(self.vertices)], dtype=np.int64)
        self.bounds = kernels.zone_bounds(self.vertices, self.starts)

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The zone as the kernels take it."""
        return self.vertices, self.starts, self.bounds

    def contains(self, xy: np.ndarray) -> np.ndarray:
        return kernels.polygons_contain(*self.arrays, as_points(xy))[:, 0]


class ZoneSet:
    """Several polygons tested in one call: ``(N, zones)`` booleans."""

    def __init__(self, zones: Sequence[PolygonZone]) -> None:
        sizes = [len(z.vertices) for z in zones]
        self.vertices = (
            np.concatenate([z.vertices for z in zones]) if zones else np.zeros((0, 2))
        )
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.bounds = kernels.zone_bounds(self.vertices, self.starts)
        self.arrays = (self.vertices, self.starts, self.bounds)  # as the kernels take them

    def contain(self, xy: np.ndarray) -> np.ndarray:
        return kernels.polygons_contain(*self.arrays, as_points(xy))


def as_points(xy: np.ndarray) -> np.ndarray:
    """``(N, 2)`` float64, the one layout the kernels are compiled for."""
    if xy.dtype == np.float64 and xy.ndim == 2 and xy.flags.c_contiguous:
        return xy  # the anchors already are: no call on the hot path
    return np.ascontiguousarray(xy, dtype=np.float64).reshape(-1, 2)


@dataclass(frozen=True)
class Crossing:
    """One movement crossing one segment; ``inward`` is along the arrow (In)."""

    segment: int
    inward: bool


class DirectedPolyline:
    """A detection line of connected segments with an In arrow (SPEC L1).

    For a segment drawn from P1 to P2 the arrow points to the left of P1->P2
    as seen on screen (y grows downwards): a line drawn left to right has its
    arrow pointing up. Moving along the arrow is In, against it Out.

    Args:
        points: 2 to 5 pixel points, in drawing order.

    Example:
        >>> line = DirectedPolyline([(0, 50), (100, 50)])
        >>> line.crossings(np.array([[50.0, 60.0]]), np.array([[50.0, 40.0]]))
        [[Crossing(segment=0, inward=True)]]
    """

    def __init__(self, points: PointList) -> None:
        self.points = np.asarray(points, dtype=np.float64).reshape(-1, 2)

    @property
    def segments(self) -> int:
        return len(self.points) - 1

    def distance(self, xy: np.ndarray) -> np.ndarray:
        """Distance from each point to the nearest segment."""
        return kernels.polyline_distances(self.points, as_points(xy))

    def nearest_segment(self, point: np.ndarray) -> int:
        """The segment nearest ``point`` (the first of equals)."""
        xy = as_points(point)
        gaps = [
            kernels.polyline_distances(self.points[s : s + 2], xy)[0]
            for s in range(self.segments)
        ]
        return int(np.argmin(gaps))

    def crossings(self, start: np.ndarray, end: np.ndarray) -> list[list[Crossing]]:
        """For each movement ``start[i] -> end[i]``, the segments it crosses."""
        start, end = as_points(start), as_points(end)
        out = np.empty((len(start) * self.segments, 3), dtype=np.int64)
        found = kernels.moves_crossings(self.points, start, end, out)
        result: list[list[Crossing]] = [[] for _ in range(len(start))]
        for move, segment, inward in out[:found].tolist():
            result[move].append(Crossing(segment, bool(inward)))
        return result
