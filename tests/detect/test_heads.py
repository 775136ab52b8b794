"""Issue 35: people of a full room found by their faces as well as their
bodies (FaceBoxes on the frame enlarged, tile by tile), one count a person."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import cv2
import numpy as np

from occusense.config import parse_config
from occusense.detect.heads import BackgroundHeads, HeadFinder, _starts, with_heads
from occusense.detect.rooms import RoomFinder
from occusense.evaluation.stills import matched
from occusense.pipeline import detector_for
from tests.conftest import SHARED

CLASSROOMS = SHARED / "data" / "classrooms-web"


def fullest(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``count`` photos with the most people: (image, head points)."""
    heads = json.loads((CLASSROOMS / "heads.json").read_text())
    names = sorted(heads, key=lambda n: -len(heads[n]))[:count]
    return [(cv2.imread(str(CLASSROOMS / "images" / Path(n).name)),
             np.array(heads[n], float)) for n in names]


def test_a_face_in_a_bodys_upper_part_is_that_person():
    body = np.array([[0, 0, 100, 300.]])
    low_face = np.array([[30, 250, 60, 290.]])  # in the body's box, but at its feet
    boxes, _ = with_heads(body, np.array([0.9]), low_face, np.array([0.8]))
    assert len(boxes) == 2  # not a face of that body: a person sitting in front
    boxes, _ = with_heads(np.zeros((0, 4)), np.zeros(0), low_face, np.array([0.8]))
    assert len(boxes) == 1  # a head with no body is a person


def test_tiles_cover_the_frame_and_overlap():
    starts = _starts(1080)
    assert starts[0] == 0 and starts[-1] + 384 == 1080
    assert all(b - a <= 384 - 96 for a, b in itertools.pairwise(starts))
    assert _starts(300) == [0]


def test_faces_find_the_back_rows_that_bodies_miss():
    finder = RoomFinder()
    with_faces = RoomFinder(heads=HeadFinder(threads=2))
    with_faces.wait_for_heads = True
    bodies = faces = people = 0
    for image, heads in fullest(2):
        bodies += matched(heads, finder.detect(image).boxes)
        faces += matched(heads, with_faces.detect(image).boxes)
        people += len(heads)
    assert people > 100
    assert faces >= bodies + 0.08 * people, (bodies, faces, people)


def test_a_camera_gets_the_faces_of_the_last_search_without_waiting():
    image, heads = fullest(1)[0]
    background = BackgroundHeads(HeadFinder(threads=1))
    try:
        first, _ = background.latest(image)
        assert len(first) == 0  # nothing found yet: the frame is not held up
        deadline = time.monotonic() + 60
        while len(background.latest(image)[0]) == 0:
            assert time.monotonic() < deadline, "the faces never came"
            time.sleep(0.2)
        assert matched(heads, background.latest(image)[0]) >= 10
    finally:
        background.close()


def test_the_faces_follow_the_setting():
    assert "faces" in detector_for(parse_config({}), 640, 480).describe()
    assert "faces" not in detector_for(parse_config({"detector": {"heads": False}}),
                                       640, 480).describe()
