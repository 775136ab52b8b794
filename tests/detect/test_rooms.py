"""Issue 25: the room finder (CenterNet over four views, fused) on a real
room, the fusion rules, and the stated rule that picks a finder per camera."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest

from occusense.config import parse_config
from occusense.detect.rooms import RoomFinder, chosen_scene, fuse, halves_of
from occusense.pipeline import PeopleFinder, detector_for
from tests.conftest import REPO, SHARED

ROOM = SHARED / "data" / "clinic-room"


def test_views_that_agree_make_one_more_likely_person():
    person = np.array([[100, 100, 200, 400]], float)
    beside = np.array([[210, 100, 310, 400]], float)
    boxes, scores = fuse([(person, np.array([0.3])), (person + 5, np.array([0.3])),
                          (beside, np.array([0.3]))])
    assert len(boxes) == 2  # the two views of one person are one; the neighbour stays
    assert sorted(np.round(scores, 2)) == [0.3, 0.51]  # 1 - 0.7 * 0.7


def test_part_of_a_person_inside_their_box_is_the_same_person():
    whole = np.array([[100, 100, 200, 400]], float)
    upper_body = np.array([[110, 100, 190, 220]], float)
    boxes, scores = fuse([(np.concatenate([whole, upper_body]), np.array([0.6, 0.5]))])
    assert len(boxes) == 1 and scores[0] == pytest.approx(0.6)


def test_the_halves_cover_the_frame_and_share_a_seam():
    (a0, _, a1, _), (b0, _, b1, _) = halves_of(1920, 1080)
    assert a0 == 0 and b1 == 1920 and b0 < a1  # they overlap
    assert a1 - b0 == pytest.approx(0.3 * a1, abs=2)


@pytest.mark.parametrize(("features", "scene"), [
    ({}, "room"),
    ({"line_crossing": {"enabled": True, "line": {"points": [[0.5, 0], [0.5, 1]]}}},
     "walkway"),
    ({"detector": {"scene": "walkway"}}, "walkway"),
    ({"detector": {"scene": "room"},
      "line_crossing": {"enabled": True, "line": {"points": [[0.5, 0], [0.5, 1]]}}}, "room"),
    ({"detector": {"model": str(REPO / "occusense/detect/models/nanodet-416.onnx")}},
     "walkway"),
])
def test_the_finder_follows_the_stated_rule(features, scene):
    assert chosen_scene(parse_config(features))[0] == scene


def test_a_room_camera_runs_the_room_finder_a_few_times_a_second(caplog):
    with caplog.at_level(logging.INFO):
        finder = PeopleFinder(parse_config({}), 1920, 1080, 25.0)
    assert isinstance(finder.detector, RoomFinder)
    assert "regions only" in caplog.text  # the log says which runs and why
    assert finder.detect_every == 5  # 25 frames/s, 5 detections a second
    walkway = PeopleFinder(parse_config({"detector": {"scene": "walkway"}}), 768, 576, 10.0)
    assert walkway.detector.name == "nanodet" and walkway.detect_every == 1


def test_the_room_finder_finds_the_seated_people_of_a_real_room():
    """clinic-room (CC BY 4.0, read in place): NanoDet finds 17% there."""
    run = subprocess.run(
        [sys.executable, "-m", "occusense.cli", "eval", "--images", str(ROOM / "images"),
         "--boxes", str(ROOM / "boxes.json"), "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["people"] == 181 and result["images"] == 18
    assert result["recall"] >= 0.88
    assert result["false_per_frame"] <= 0.5
    assert result["count_error"] <= 1.0
    assert "room finder" in result["detector"]


def test_still_image_accuracy_of_the_walkway_detector_is_measured_too(tmp_path):
    walkway = tmp_path / "walkway.yaml"
    walkway.write_text("detector:\n  scene: walkway\n")
    run = subprocess.run(
        [sys.executable, "-m", "occusense.cli", "eval", "--images", str(ROOM / "images"),
         "--boxes", str(ROOM / "boxes.json"), "--config", str(walkway)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "found" in run.stdout and "nanodet" in run.stdout
    found = float(run.stdout.split("people: ")[1].split("%")[0])
    assert found < 30  # the reason the room finder exists


def test_eval_images_without_boxes_is_a_clear_error():
    run = subprocess.run([sys.executable, "-m", "occusense.cli", "eval", "--images",
                          str(ROOM / "images")], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "--boxes" in run.stderr


def test_a_room_finder_on_a_detector_pool_is_shared(tmp_path):
    from occusense.detect.shared import DetectorPool

    pool = DetectorPool(1)
    try:
        one = detector_for(parse_config({}), 640, 480, pool)
        two = detector_for(parse_config({}), 640, 480, pool)
        frame = np.zeros((480, 640, 3), np.uint8)
        assert len(one.detect(frame)) == len(two.detect(frame)) == 0
        assert len(pool.stats()) == 1  # one CenterNet session for both cameras
    finally:
        pool.close()


def test_a_doubtful_person_much_narrower_than_the_rows_people_is_not_counted():
    from occusense.detect.rooms import LEARNED_FROM, RowWidths

    widths = RowWidths()
    rows = np.linspace(100, 900, LEARNED_FROM)
    # perspective: people lower in the picture (nearer) are wider
    people = np.array([[500, y - 150, 500 + 60 + y / 10, y + 150] for y in rows], float)
    assert widths.plausible(people, np.full(len(people), 0.9), (1080, 1920)).all()
    odd = np.array([[800, 650, 820, 750],    # a hand-sized box at row 700: doubtful
                    [800, 650, 890, 750],    # a person's width at that row: doubtful
                    [1200, 650, 1220, 750]],  # a hand-sized box, but sure
                   float)
    kept = widths.plausible(odd, np.array([0.45, 0.45, 0.8]), (1080, 1920))
    assert kept.tolist() == [False, True, True]


def test_before_it_has_seen_enough_people_nobody_is_dropped_for_width():
    from occusense.detect.rooms import RowWidths

    tiny = np.array([[10, 10, 12, 30], [100, 100, 400, 300]], float)
    assert RowWidths().plausible(tiny, np.array([0.45, 0.9]), (1080, 1920)).all()
