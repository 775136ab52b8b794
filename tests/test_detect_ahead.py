"""Frames detected several at once on worker threads, tracked in order, and
people predicted between detections (issue: real time on two cores)."""

from __future__ import annotations

import numpy as np

from occusense.config import parse_config
from occusense.detect.base import Detections
from occusense.pipeline import Pipeline, detect_ahead, detection_interval
from occusense.sources import open_source
from occusense.track import PersonTracker

CONFIG = {
    "line_crossing": {"enabled": True, "line": {"points": [[0.52, 0.17], [0.52, 0.87]]}},
    "region_counting": {"enabled": True},
    "output": {"jsonl_path": ""},
}


def people_per_frame(sample_video, workers: int | None, frames: int = 80, **detector):
    config = parse_config({**CONFIG, "detector": detector})
    source = open_source(str(sample_video), start_ts=0.0)
    pipeline = Pipeline(config, source.width, source.height, source.fps, 0.0)
    seen = []
    stream = (frame for _, frame in zip(range(frames), source.frames(), strict=False))
    planned_frames = (
        detect_ahead(pipeline.finder, stream, workers) if workers else (f for f in stream)
    )
    for planned in planned_frames:
        result = pipeline.step(planned)
        people = pipeline.last_people
        seen.append((result is not None, people.ids.tolist(), np.round(people.boxes, 2).tolist()))
    source.close()
    return seen, pipeline.analytics.line.cumulative


def test_frames_detected_at_once_count_exactly_as_one_by_one(sample_video) -> None:
    one_by_one, totals = people_per_frame(sample_video, None)
    at_once, totals_at_once = people_per_frame(sample_video, 2)
    assert len(at_once) == len(one_by_one) == 80
    assert at_once == one_by_one  # same people, same IDs, same boxes, same order
    assert (totals_at_once.inward, totals_at_once.outward) == (totals.inward, totals.outward)
    assert sum(len(ids) for _, ids, _ in one_by_one) > 200  # people were there


def test_frame_stride_and_detect_every_through_workers(sample_video) -> None:
    seen, _ = people_per_frame(sample_video, 2, frames=40, frame_stride=2, detect_every=2)
    analysed = [a for a, _, _ in seen]
    assert analysed == [i % 2 == 0 for i in range(40)]
    # between detections the same people are there, moved on, not dropped
    with_people = [ids for a, ids, _ in seen if a and ids]
    assert len(with_people) >= 15


def test_between_detections_people_stay_where_last_seen() -> None:
    tracker = PersonTracker(frame_rate=10.0, min_consecutive_frames=1)
    box = np.array([[100.0, 100.0, 140.0, 200.0]], np.float32)
    for step in range(6):  # walking right at 50 px/s
        moved = box + np.array([5.0 * step, 0, 5.0 * step, 0], np.float32)
        people = tracker.update(Detections(moved, np.array([0.9], np.float32)), step / 10)
    assert len(people) == 1
    held = tracker.between_detections()
    assert held.ids.tolist() == people.ids.tolist()
    assert held.ended == []  # an end is reported once, by the detection that saw it
    np.testing.assert_array_equal(held.boxes, people.boxes)


def test_between_detections_with_nobody_seen_is_empty() -> None:
    assert len(PersonTracker().between_detections()) == 0


def test_frames_between_detections_repeat_the_last_detection(sample_video) -> None:
    seen, _ = people_per_frame(sample_video, 2, frames=60, detect_every=3)
    for start in range(0, 60, 3):
        detected = seen[start][1:]
        assert seen[start + 1][1:] == detected and seen[start + 2][1:] == detected
    assert sum(1 for _, ids, _ in seen if ids) >= 50  # people were there


def test_a_slow_camera_is_detected_at_least_three_times_a_second(sample_video) -> None:
    # the sample at 10 frames/s, every 2nd frame analysed: 5 frames/s reach the
    # detector, so detect_every 2 (2.5 detections a second) becomes every frame
    config = parse_config({**CONFIG, "detector": {"detect_every": 2, "frame_stride": 2}})
    source = open_source(str(sample_video), start_ts=0.0)
    pipeline = Pipeline(config, source.width, source.height, source.fps, 0.0)
    frames = [frame for _, frame in zip(range(12), source.frames(), strict=False)]
    source.close()
    planned = [pipeline.finder.plan(frame) for frame in frames]
    assert [p.detection is not None for p in planned] == [i % 2 == 0 for i in range(12)]
    assert detection_interval(2, 10.0) == 2 and detection_interval(3, 7.0) == 2
    assert detection_interval(2, 0.0) == 2  # a source that does not know its rate
