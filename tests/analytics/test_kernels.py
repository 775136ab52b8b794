"""The compiled counting kernels against shapely and a plain dict.

The kernels hold their own small geometry and hash table (for speed, see
occusense/analytics/kernels.py); these tests check them against the
well-kept implementations on random shapes, points and ID sequences.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Polygon

from occusense.analytics import kernels
from occusense.analytics.geometry import DirectedPolyline, PolygonZone, ZoneSet
from occusense.analytics.table import PersonTable


def star_polygon(rng: np.random.Generator, corners: int) -> list[tuple[float, float]]:
    """A simple (possibly concave) polygon: corners at random radii around a centre."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radii = rng.uniform(20, 200, corners)
    centre = rng.uniform(200, 400, 2)
    x, y = centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)
    return list(zip(x.tolist(), y.tolist(), strict=True))


@pytest.mark.parametrize("seed", range(20))
def test_point_in_polygon_matches_shapely(seed: int) -> None:
    rng = np.random.default_rng(seed)
    polygons = [star_polygon(rng, int(rng.integers(3, 12))) for _ in range(16)]
    points = rng.uniform(0, 600, (500, 2))
    inside = ZoneSet([PolygonZone(p) for p in polygons]).contain(points)
    for z, corners in enumerate(polygons):
        shape = Polygon(corners)
        expected = shapely.contains_xy(shape, points[:, 0], points[:, 1])
        # a point a hair from an edge may fall either way on either side
        near = shapely.distance(shape.exterior, shapely.points(points)) < 1e-6
        assert np.array_equal(inside[~near, z], expected[~near]), (seed, z)


@pytest.mark.parametrize("seed", range(10))
def test_distance_to_polyline_matches_shapely(seed: int) -> None:
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 600, (int(rng.integers(2, 6)), 2))
    points = rng.uniform(-50, 650, (300, 2))
    ours = DirectedPolyline(corners.tolist()).distance(points)
    theirs = shapely.distance(LineString(corners), shapely.points(points))
    assert np.allclose(ours, theirs, atol=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_crossings_match_shapely_intersections_and_sides(seed: int) -> None:
    rng = np.random.default_rng(seed)
    corners = rng.uniform(100, 500, (int(rng.integers(2, 6)), 2))
    line = DirectedPolyline(corners.tolist())
    start, end = rng.uniform(0, 600, (400, 2)), rng.uniform(0, 600, (400, 2))
    found = line.crossings(start, end)
    for i in range(len(start)):
        expected = []
        move = LineString([start[i], end[i]])
        for s in range(len(corners) - 1):
            p1, p2 = corners[s], corners[s + 1]
            d = p2 - p1

            def arrow_side(xy: np.ndarray, p1=p1, d=d) -> bool:
                return d[0] * (xy[1] - p1[1]) - d[1] * (xy[0] - p1[0]) < 0

            was_in, now_in = arrow_side(start[i]), arrow_side(end[i])
            if was_in != now_in and move.intersects(LineString([p1, p2])):
                expected.append((s, now_in))
        assert [(c.segment, c.inward) for c in found[i]] == expected, i


def test_a_move_touching_the_line_end_counts() -> None:
    line = DirectedPolyline([(0.0, 50.0), (100.0, 50.0)])
    [[crossing]] = line.crossings(np.array([[100.0, 60.0]]), np.array([[100.0, 40.0]]))
    assert crossing.inward


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 300)), min_size=1, max_size=400))
def test_person_table_agrees_with_a_dict(ops: list[tuple[bool, int]]) -> None:
    """Random adds and releases (with growth): every known ID keeps its row,
    no two people share one, released IDs are gone."""
    table, model = PersonTable(capacity=4), {}
    for add, pid in ops:
        if add:
            table.reserve(1)
            row = table.add(pid)
            assert model.setdefault(pid, row) == row
        elif pid in model:
            table.release(np.array([model.pop(pid)]))
        assert table.row(pid) == model.get(pid)
    assert len(set(model.values())) == len(model)
    assert all(table.row(pid) == row for pid, row in model.items())
    assert sorted(table.ids[table.used()].tolist()) == sorted(model)


def colliding_ids(bits: int, homes: set[int], count: int) -> list[int]:
    """IDs whose hash lands on a few slots (some at the table's end, so
    probe runs wrap around): the deletions that must shift entries back."""
    found, pid = [], 0
    while len(found) < count:
        if int(kernels._home(pid, bits)) in homes:
            found.append(pid)
        pid += 1
    return found


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_person_table_with_colliding_ids(data: st.DataObject) -> None:
    table, model = PersonTable(capacity=64), {}
    bits = int(table.arrays[2][0])
    pool = colliding_ids(bits, {0, 1, (1 << bits) - 2, (1 << bits) - 1}, 40)
    for _ in range(data.draw(st.integers(10, 200))):
        pid = data.draw(st.sampled_from(pool))
        if pid in model and data.draw(st.booleans()):
            table.release(np.array([model.pop(pid)]))
        elif pid not in model:
            model[pid] = table.add(pid)
        assert all(table.row(p) == model.get(p) for p in pool)
    assert table.capacity == 64  # no growth: every entry stayed in the same hash
