"""Region counting (R1-R5): area modes, debounce, interval maximum."""

from __future__ import annotations

import numpy as np
import pytest

from occusense.analytics.geometry import PolygonZone
from occusense.analytics.regions import RegionCounter

LEFT = PolygonZone([(0, 0), (100, 0), (100, 100), (0, 100)])
RIGHT = PolygonZone([(200, 0), (300, 0), (300, 100), (200, 100)])
# people: one in LEFT, two in RIGHT, one outside both
IDS = np.array([1, 2, 3, 4])
POINTS = np.array([[50.0, 50.0], [250.0, 50.0], [260.0, 60.0], [150.0, 50.0]])


@pytest.mark.parametrize(
    ("zones", "mapped", "total", "per_region"),
    [
        ([LEFT, RIGHT], True, 3, (1, 2)),  # mapped: inside the regions
        ([LEFT, RIGHT], False, 1, ()),  # non-mapped: outside every region
        ([], True, 4, ()),  # no region: the whole frame
    ],
)
def test_area_modes(zones, mapped, total, per_region) -> None:
    state = RegionCounter(zones, mapped=mapped, debounce_s=0).update(0.0, IDS, POINTS)
    assert (state.total, state.per_region) == (total, per_region)


def test_occupancy_is_zero_or_one_per_region() -> None:
    state = RegionCounter([LEFT, RIGHT]).update(0.0, IDS, POINTS)
    assert state.occupancy == (1, 1)


def test_person_in_overlapping_regions_counts_once_in_total() -> None:
    wide = PolygonZone([(0, 0), (120, 0), (120, 100), (0, 100)])
    state = RegionCounter([LEFT, wide]).update(0.0, np.array([1]), np.array([[50.0, 50.0]]))
    assert state.per_region == (1, 1) and state.total == 1


@pytest.mark.parametrize(
    ("gap_s", "debounce_s", "still_counted"),
    [(1.0, 2.0, True), (1.9, 2.0, True), (2.5, 2.0, False), (0.5, 0.0, False)],
)
def test_debounce_keeps_a_missed_person(gap_s, debounce_s, still_counted) -> None:
    counter = RegionCounter([LEFT], debounce_s=debounce_s)
    counter.update(0.0, np.array([1]), np.array([[50.0, 50.0]]))
    state = counter.update(gap_s, np.zeros(0, int), np.zeros((0, 2)))
    assert (state.total == 1) is still_counted


def test_flicker_of_detections_does_not_flicker_the_count() -> None:
    counter = RegionCounter([LEFT], debounce_s=2.0)
    totals = []
    for i in range(1, 40):
        seen = i % 3 != 0  # the detector misses every third frame
        ids = np.array([1]) if seen else np.zeros(0, int)
        pts = np.array([[50.0, 50.0]]) if seen else np.zeros((0, 2))
        totals.append(counter.update(i * 0.1, ids, pts).total)
    assert set(totals) == {1}


def test_max_counted_is_the_peak_of_the_interval() -> None:
    counter = RegionCounter([], debounce_s=0)
    for ts, n in [(0.0, 2), (1.0, 5), (2.0, 3)]:
        counter.update(ts, np.arange(n), np.zeros((n, 2)))
    assert counter.take_period_max() == 5
    # the next interval starts from the current count
    assert counter.take_period_max() == 3


def test_a_person_walking_into_the_next_region_leaves_the_first_at_once() -> None:
    """Issue 28 (6): the regions' counts add up to the people counted."""
    counter = RegionCounter([LEFT, RIGHT], debounce_s=2.0)
    counter.update(0.0, np.array([1]), np.array([[50.0, 50.0]]))
    walked = counter.update(0.5, np.array([1]), np.array([[250.0, 50.0]]))
    assert walked.per_region == (0, 1) and walked.total == 1
    # seen between the regions (in neither): the debounce still holds them in RIGHT
    between = counter.update(1.0, np.array([1]), np.array([[150.0, 50.0]]))
    assert between.per_region == (0, 1)
    # unseen: held by the debounce as before
    unseen = counter.update(1.5, np.zeros(0, int), np.zeros((0, 2)))
    assert unseen.per_region == (0, 1)
