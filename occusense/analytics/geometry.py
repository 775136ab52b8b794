"""Geometry the counters work on, in frame pixels.

Containment, distances and segment intersections go through shapely 2's
vectorised functions (one call for every tracked person at once); only the
side of a directed segment — the sign that defines In and Out — is computed
here, as it is a convention, not geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

PointList = Sequence[tuple[float, float]]


def to_pixels(points: PointList, width: int, height: int) -> list[tuple[float, float]]:
    """Relative (0..1) config points -> pixel points for a ``width x height`` frame."""
    return [(x * width, y * height) for x, y in points]


def anchor_points(boxes: np.ndarray, centre: bool) -> np.ndarray:
    """A person's point (SPEC L1): bottom-centre of the box, or its centre."""
    x = (boxes[:, 0] + boxes[:, 2]) * 0.5
    y = (boxes[:, 1] + boxes[:, 3]) * 0.5 if centre else boxes[:, 3]
    return np.stack([x, y], axis=1)


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
        self.shape = Polygon(self.points)
        shapely.prepare(self.shape)

    def contains(self, xy: np.ndarray) -> np.ndarray:
        if len(xy) == 0:
            return np.zeros(0, dtype=bool)
        return shapely.contains_xy(self.shape, xy[:, 0], xy[:, 1])


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
        self.points = np.asarray(points, dtype=np.float64)
        self.segments = [
            LineString([self.points[i], self.points[i + 1]]) for i in range(len(self.points) - 1)
        ]
        self.segment_geoms = np.array(self.segments, dtype=object)
        self.shape = LineString(self.points)
        for geom in (*self.segments, self.shape):
            shapely.prepare(geom)

    def side(self, xy: np.ndarray, segment: int) -> np.ndarray:
        """Signed side of each point: < 0 on the arrow side of ``segment``."""
        p1, p2 = self.points[segment], self.points[segment + 1]
        d = p2 - p1
        return d[0] * (xy[:, 1] - p1[1]) - d[1] * (xy[:, 0] - p1[0])

    def distance(self, xy: np.ndarray) -> np.ndarray:
        if len(xy) == 0:
            return np.zeros(0)
        return shapely.distance(self.shape, shapely.points(xy))

    def may_cross(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Cheap necessary test: the move changes side of some segment's line."""
        p1, d = self.points[:-1], self.points[1:] - self.points[:-1]

        def sides(xy: np.ndarray) -> np.ndarray:
            return (
                d[None, :, 0] * (xy[:, None, 1] - p1[None, :, 1])
                - d[None, :, 1] * (xy[:, None, 0] - p1[None, :, 0])
            ) < 0

        return (sides(start) != sides(end)).any(axis=1)

    def crossings(self, start: np.ndarray, end: np.ndarray) -> list[list[Crossing]]:
        """For each movement ``start[i] -> end[i]``, the segments it crosses."""
        if len(start) == 0:
            return []
        moves = shapely.linestrings(np.stack([start, end], axis=1))
        hits = shapely.intersects(moves[:, None], self.segment_geoms[None, :])
        result: list[list[Crossing]] = [[] for _ in range(len(start))]
        for i, seg in zip(*np.nonzero(hits), strict=True):
            # a point on the segment belongs to the side opposite the arrow, so
            # stepping onto the line and then off it counts once, not twice
            was_in = self.side(start[i : i + 1], seg)[0] < 0
            now_in = self.side(end[i : i + 1], seg)[0] < 0
            if was_in != now_in:
                result[i].append(Crossing(int(seg), inward=bool(now_in)))
        return result
