"""Issue 25: a seated person the detector misses for minutes stays counted
while the picture of their place has not changed, and goes when it does."""

from __future__ import annotations

import numpy as np

from occusense.detect.base import Detections
from occusense.track import PersonTracker

SEAT = np.array([[200, 100, 260, 220]], np.float32)
NEIGHBOUR = np.array([[400, 100, 460, 220]], np.float32)


def room(seated_value: int = 90) -> np.ndarray:
    """A still room: grey, with a textured "person" on the seat."""
    image = np.full((480, 640, 3), 40, np.uint8)
    rng = np.random.default_rng(7)
    image[100:220, 200:260] = rng.integers(seated_value - 30, seated_value + 30, (120, 60, 3))
    image[100:220, 400:460] = rng.integers(100, 160, (120, 60, 3))
    return image


def feed(tracker: PersonTracker, frames, start: float = 0.0, fps: float = 5.0):
    """(detections, image) per frame at ``fps``: the people each frame gives out."""
    out = []
    for n, (boxes, image) in enumerate(frames):
        found = Detections(boxes, np.full(len(boxes), 0.9, np.float32))
        out.append(tracker.update(found, start + n / fps, image))
    return out


def test_a_seated_person_missed_for_minutes_stays_counted_until_the_seat_changes():
    tracker = PersonTracker(frame_rate=5.0, hold_still=True)
    image = room()
    both = np.concatenate([SEAT, NEIGHBOUR])
    seen = feed(tracker, [(both, image)] * 10)
    assert len(seen[-1]) == 2
    # the detector now finds only the neighbour, for five minutes of a still picture
    missed = feed(tracker, [(NEIGHBOUR, image)] * (5 * 60 * 5), start=2.0)
    assert all(len(people) == 2 for people in missed)
    held = set(missed[-1].ids.tolist())
    ended = [pid for people in missed for pid in people.ended]
    assert not ended  # nobody's stay ended while they sat there
    # the seated person gets up: the picture of the seat changes
    left = room(seated_value=200)
    after = feed(tracker, [(NEIGHBOUR, left)] * 3, start=400.0)
    assert len(after[-1]) == 1
    gone = held - set(after[-1].ids.tolist())
    assert [pid for people in after for pid in people.ended] == list(gone)


def test_without_the_hold_a_missed_person_goes_at_once():
    tracker = PersonTracker(frame_rate=5.0, hold_still=False)
    image = room()
    feed(tracker, [(np.concatenate([SEAT, NEIGHBOUR]), image)] * 10)
    missed = feed(tracker, [(NEIGHBOUR, image)] * 20, start=2.0)
    assert len(missed[-1]) == 1  # walking people who are missed have moved on


def test_a_new_detection_on_the_held_place_takes_over_and_is_not_counted_twice():
    tracker = PersonTracker(frame_rate=5.0, hold_still=True)
    image = room()
    feed(tracker, [(np.concatenate([SEAT, NEIGHBOUR]), image)] * 10)
    feed(tracker, [(NEIGHBOUR, image)] * 50, start=2.0)  # held for 10 s
    back = feed(tracker, [(np.concatenate([SEAT + 2, NEIGHBOUR]), image)] * 10, start=20.0)
    assert len(back[-1]) == 2
