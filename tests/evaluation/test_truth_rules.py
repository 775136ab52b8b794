"""The settled line-truth rule of ../shared/data/README.md and the people-
found measures of the accuracy suite (issue 17), on made-up tracks."""

from __future__ import annotations

import numpy as np

from occusense.evaluation.evaluate import people_found, truth_line
from occusense.evaluation.mot import MotTracks
from occusense.evaluation.runner import TrackStep

LINE = [(100.0, 0.0), (100.0, 400.0)]  # drawn downwards: In = moving right


def walk(xs: list[float]) -> MotTracks:
    """One person whose feet are at x = xs[frame - 1] (y = 200)."""
    frames = {}
    for n, x in enumerate(xs, 1):
        frames[n] = (np.array([1]), np.array([[x - 10, 150, x + 10, 200.0]]))
    return MotTracks(frames)


def test_a_crossing_undone_within_a_second_is_no_crossing():
    tracks = walk([90, 110, 110, 90, 90])  # over and back in 2 frames at 10 frames/s
    assert truth_line(tracks, LINE) == {"in": 1, "out": 1}  # the raw rule
    assert truth_line(tracks, LINE, fps=10) == {"in": 0, "out": 0}


def test_a_crossing_undone_later_counts_both_ways():
    tracks = walk([90, 110] + [110] * 15 + [90])
    assert truth_line(tracks, LINE, fps=10) == {"in": 1, "out": 1}


def test_wobbling_over_the_line_counts_where_the_person_ends():
    tracks = walk([90, 110, 90, 110, 110])  # in, out, in within a second: one in
    assert truth_line(tracks, LINE, fps=10) == {"in": 1, "out": 0}
    assert truth_line(tracks, LINE) == {"in": 2, "out": 1}


def step(frame: int, boxes: list[list[float]]) -> TrackStep:
    array = np.array(boxes, np.float32).reshape(-1, 4)
    return TrackStep(frame, frame / 10, np.arange(len(array)), array, [], np.arange(len(array)))


def test_people_found_matches_boxes_one_to_one():
    truth = MotTracks(
        {1: (np.array([1, 2]), np.array([[0, 0, 10, 20.0], [50, 0, 60, 20]]))},
        ignored={1: np.array([[200, 0, 260, 40.0]])},
    )
    steps = [step(1, [[1, 0, 11, 20], [0, 1, 10, 21], [210, 0, 220, 20], [400, 0, 410, 20]])]
    found = people_found(truth, steps)
    # one true person found (the second box on them is false), one missed; the
    # box in the ignore area is not false, the one at x=400 is
    assert found == {"recall": 0.5, "precision": round(1 / 3, 4), "false_per_frame": 2.0}
