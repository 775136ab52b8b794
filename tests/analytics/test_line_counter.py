"""Line crossing (L1-L3, L6): direction, and what breaks naive counters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from occusense.analytics.geometry import DirectedPolyline
from occusense.analytics.line import LineCounter
from occusense.track.identity import IdentityStitcher

H = 60.0  # person box height in pixels; the line's band is 0.1 * H = 6 px
W = 20.0
FPS = 10.0
HORIZONTAL = [(0.0, 100.0), (400.0, 100.0)]  # drawn left to right: arrow up


def count(frames: list[list[tuple[int, float, float]]], line=HORIZONTAL) -> tuple[int, int]:
    """Run raw tracks ``[(raw_id, x_feet, y_feet), ...]`` per frame through
    identity stitching and the line counter; return (in, out)."""
    stitcher = IdentityStitcher()
    counter = LineCounter(DirectedPolyline(line))
    ts = 0.0
    for ts_index, rows in enumerate(frames):
        ts = ts_index / FPS
        raw = np.array([r[0] for r in rows], dtype=np.int64)
        boxes = np.array([[x - W / 2, y - H, x + W / 2, y] for _, x, y in rows]).reshape(-1, 4)
        ids, ended = stitcher.update(raw, boxes, ts)
        points = np.array([[x, y] for _, x, y in rows]).reshape(-1, 2)
        counter.update(ts, ids, points, np.full(len(rows), H))
        counter.end(ts, ended)
    counter.end(ts + 1, stitcher.finish())
    return counter.cumulative.inward, counter.cumulative.outward


def walk(y0: float, y1: float, steps: int, x: float = 200.0) -> list[tuple[float, float]]:
    return [(x, y0 + (y1 - y0) * i / (steps - 1)) for i in range(steps)]


@pytest.mark.parametrize(
    ("line", "path", "expected"),
    [
        (HORIZONTAL, walk(160, 40, 13), (1, 0)),  # moving up = along the arrow
        (HORIZONTAL, walk(40, 160, 13), (0, 1)),
        ([(400.0, 100.0), (0.0, 100.0)], walk(160, 40, 13), (0, 1)),  # drawn right to left
        ([(100.0, 0.0), (100.0, 300.0)], [(40 + 10 * i, 150.0) for i in range(13)], (1, 0)),
        ([(100.0, 300.0), (100.0, 0.0)], [(40 + 10 * i, 150.0) for i in range(13)], (0, 1)),
        # a bent line: crossing its second segment only
        (
            [(0.0, 100.0), (200.0, 100.0), (300.0, 200.0)],
            [(300 - 8 * i, 100.0 + 0 * i) for i in range(15)],
            (0, 1),
        ),
        # passing beside the end of a segment is no crossing
        (HORIZONTAL, walk(160, 40, 13, x=450.0), (0, 0)),
    ],
)
def test_direction_follows_drawing(line, path, expected) -> None:
    assert count([[(1, x, y)] for x, y in path], line) == expected


@settings(max_examples=60, deadline=None)
@given(
    amplitude=st.floats(0.0, 5.0),
    steps=st.integers(8, 60),
    seed=st.integers(0, 10_000),
    upward=st.booleans(),
)
def test_box_jitter_on_the_line_counts_once(amplitude, steps, seed, upward) -> None:
    rng = np.random.default_rng(seed)
    path = walk(220, -20, steps) if upward else walk(-20, 220, steps)
    # linger on the line for a while, jittering, before going on
    mid = steps // 2
    path = path[:mid] + [(200.0, 100.0)] * 15 + path[mid:]
    frames = [
        [(1, x + rng.uniform(-amplitude, amplitude), y + rng.uniform(-amplitude, amplitude))]
        for x, y in path
    ]
    assert count(frames) == ((1, 0) if upward else (0, 1))


@settings(max_examples=60, deadline=None)
@given(
    gap=st.integers(1, 15),
    lost_at=st.floats(70.0, 130.0),
    steps=st.integers(30, 50),
)
def test_track_lost_and_reacquired_with_new_id_counts_once(gap, lost_at, steps) -> None:
    path = walk(220, -100, steps)
    cut = next(i for i, (_, y) in enumerate(path) if y <= lost_at)
    frames: list[list[tuple[int, float, float]]] = [[(1, x, y)] for x, y in path[:cut]]
    frames += [[] for _ in range(gap)]  # detector misses the person
    frames += [[(2, x, y)] for x, y in path[cut + gap :]]  # tracker gives a new ID
    assert count(frames) == (1, 0)


@settings(max_examples=40, deadline=None)
@given(offset=st.floats(-5.0, 5.0), amplitude=st.floats(0.0, 0.9), seed=st.integers(0, 999))
def test_walking_along_the_line_counts_nothing(offset, amplitude, seed) -> None:
    rng = np.random.default_rng(seed)
    frames = [
        [(1, 10.0 + 8 * i, 100 + offset + rng.uniform(-amplitude, amplitude))] for i in range(45)
    ]
    assert count(frames) == (0, 0)


@settings(max_examples=40, deadline=None)
@given(depth=st.floats(-30.0, 5.5), steps=st.integers(5, 20))
def test_uturn_before_leaving_the_band_counts_nothing(depth, steps) -> None:
    # walk up towards the line, reach 100 - depth (at most 5.5 px past it), turn back
    there = walk(200, 100 - depth, steps)
    frames = [[(1, x, y)] for x, y in there + there[::-1]]
    assert count(frames) == (0, 0)


def test_real_crossing_and_return_counts_both_ways() -> None:
    there = walk(200, 40, 12)
    assert count([[(1, x, y)] for x, y in there + there[::-1]]) == (1, 1)


@settings(max_examples=40, deadline=None)
@given(hidden=st.integers(2, 12), same_direction=st.booleans())
def test_two_people_merging_near_the_line_each_count_once(hidden, same_direction) -> None:
    """Two people side by side; the detector merges them into one box (the
    second one vanishes) around the line, then sees them apart again with a
    new ID for the one that vanished."""
    a = walk(220, -20, 30, x=200.0)
    b = walk(220, -20, 30, x=215.0) if same_direction else walk(-20, 220, 30, x=215.0)
    start = 12
    frames = []
    for i in range(30):
        rows = [(1, *a[i])]
        if i < start:
            rows.append((2, *b[i]))
        elif i >= start + hidden:
            rows.append((3, *b[i]))
        frames.append(rows)
    assert count(frames) == ((2, 0) if same_direction else (1, 1))


def test_track_ending_inside_band_after_crossing_counts() -> None:
    # the person crosses and the track ends 3 px past the line (inside the band)
    frames = [[(1, 200.0, y)] for y in (160.0, 140.0, 120.0, 104.0, 97.0)]
    assert count(frames) == (1, 0)


@pytest.mark.parametrize(("first_off", "expected"), [(3.0, (1, 0)), (-3.0, (0, 0))])
def test_first_seen_on_the_line_takes_its_side_from_the_first_step_off_it(
    first_off, expected
) -> None:
    """First seen 1 px below the line (no side), then ``first_off`` px below
    it (inside the 6 px band, but off the line), then far above: counted in
    only when that first step off the line was below it."""
    ys = (101.0, 100.0 + first_off, 80.0, 60.0)
    assert count([[(1, 200.0, y)] for y in ys]) == expected


def test_periodic_counts_reset_and_cumulative_stays() -> None:
    counter = LineCounter(DirectedPolyline(HORIZONTAL))
    h = np.array([H])
    for i, y in enumerate((150.0, 50.0, 150.0)):
        counter.update(float(i), np.array([1]), np.array([[200.0, y]]), h)
    period = counter.take_period()
    assert (period.inward, period.outward, period.capacity) == (1, 1, 0)
    assert counter.take_period().inward == 0
    assert (counter.cumulative.inward, counter.cumulative.outward) == (1, 1)
