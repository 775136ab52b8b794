"""The tracker's first sightings: a person gets an ID at their second
detection, and the counters still see where the first one was."""

from __future__ import annotations

import numpy as np

from occusense.analytics.engine import Analytics
from occusense.config import parse_config
from occusense.detect.base import Detections
from occusense.track import PersonTracker


def found(*boxes) -> Detections:
    scores = np.full(len(boxes), 0.9, np.float32)
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), scores)


def test_a_confirmed_track_reports_where_it_started() -> None:
    tracker = PersonTracker(frame_rate=10.0)
    first = tracker.update(found([100, 100, 160, 250]), 0.0)
    assert len(first) == 0 and len(first.first_ids) == 0  # no ID at one detection
    second = tracker.update(found([110, 100, 170, 250]), 0.1)
    assert len(second) == 1
    assert second.first_ids.tolist() == second.ids.tolist()
    np.testing.assert_array_equal(second.first_boxes, [[100, 100, 160, 250]])
    third = tracker.update(found([120, 100, 180, 250]), 0.2)
    assert third.ids.tolist() == second.ids.tolist() and len(third.first_ids) == 0


def test_first_sightings_of_several_people_go_to_the_right_ids() -> None:
    tracker = PersonTracker(frame_rate=10.0)
    tracker.update(found([100, 100, 160, 250], [400, 100, 460, 250]), 0.0)
    people = tracker.update(found([405, 100, 465, 250], [104, 100, 164, 250]), 0.1)
    starts = dict(zip(people.first_ids.tolist(), people.first_boxes[:, 0].tolist(), strict=True))
    now = dict(zip(people.ids.tolist(), people.boxes[:, 0].tolist(), strict=True))
    assert sorted(starts) == sorted(now) and len(now) == 2
    assert {now[pid]: starts[pid] for pid in now} == {104.0: 100.0, 405.0: 400.0}


def test_a_line_crossed_between_the_first_two_detections_counts() -> None:
    config = parse_config(
        {"line_crossing": {"enabled": True, "line": {"points": [[0.5, 0.0], [0.5, 1.0]]}}}
    )
    analytics = Analytics(config, 400, 300)
    tracker = PersonTracker(frame_rate=10.0)
    crossings = []
    # walking right over x = 200: feet at 180, then 225 (a fast walker at 10 frames/s)
    for ts, box in ((0.0, [150, 100, 210, 250]), (0.1, [195, 100, 255, 250])):
        crossings += analytics.update(ts, tracker.update(found(box), ts)).crossings
    assert len(crossings) == 1
    assert analytics.line is not None
    assert analytics.line.cumulative.inward + analytics.line.cumulative.outward == 1


def test_a_flow_entry_edge_comes_from_the_first_sighting() -> None:
    config = parse_config(
        {
            "people_flow": {
                "enabled": True,
                "area": [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]],
                "edge_names": ["N", "E", "S", "W"],
            }
        }
    )
    analytics = Analytics(config, 400, 300)
    tracker = PersonTracker(frame_rate=10.0)
    flows = []
    # feet at x = 80 (west of the area), then 120 near its north edge (y = 85):
    # walked in over the west edge, although the north edge is nearer
    for step, feet_x in enumerate([80, 120, 150, 180, 210, 240, 270, 300, 330, 360]):
        feet_y = 100 if step == 0 else 85
        box = [feet_x - 30, feet_y - 150, feet_x + 30, feet_y]
        flows += analytics.update(step / 10, tracker.update(found(box), step / 10)).flows
    assert [(a, b) for _, a, b in flows] == [("W", "E")]


def test_a_person_the_detector_misses_is_held_where_last_seen_for_a_while() -> None:
    tracker = PersonTracker(frame_rate=10.0, hold_missed_s=0.25)
    a, b = [100, 100, 160, 250], [300, 100, 360, 250]
    for ts in (0.0, 0.1):
        both = tracker.update(found(a, b), ts)
    assert len(both) == 2
    id_b = both.ids[both.boxes[:, 0] == 300][0]
    # b hidden behind someone for three frames: held at their last box for 0.25 s
    kept = [tracker.update(found(a), ts) for ts in (0.2, 0.3, 0.4)]
    assert [len(people) for people in kept] == [2, 2, 1]
    held = kept[1].boxes[kept[1].ids == id_b]
    np.testing.assert_array_equal(held, [b])
    assert len(tracker.between_detections()) == 1
    # seen again: the same person, not held twice
    back = tracker.update(found(a, [305, 100, 365, 250]), 0.5)
    assert sorted(back.ids.tolist()) == sorted(both.ids.tolist())


def test_holding_off_gives_only_the_people_detected() -> None:
    tracker = PersonTracker(frame_rate=10.0, hold_missed_s=0.0)
    for ts in (0.0, 0.1):
        tracker.update(found([100, 100, 160, 250], [300, 100, 360, 250]), ts)
    assert len(tracker.update(found([100, 100, 160, 250]), 0.2)) == 1
