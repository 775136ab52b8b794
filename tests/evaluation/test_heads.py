"""Issue 35: still-image accuracy by head points (a full room's people are
heads): the rule of classrooms-web's SOURCE.md, on the command line and in
the suite."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from occusense.evaluation.stills import matched, rooms
from tests.conftest import REPO, SHARED

CLASSROOMS = SHARED / "data" / "classrooms-web"


def test_a_head_is_found_when_a_detection_box_holds_it_one_to_one():
    heads = np.array([[50, 40], [60, 42], [300, 300]], float)
    boxes = np.array([[30, 20, 80, 200]], float)  # one body around two heads
    assert matched(heads, boxes) == 1  # one to one: the body counts one person
    assert matched(heads, np.array([[30, 20, 80, 200], [55, 30, 70, 60]], float)) == 2


def test_eval_by_heads_measures_a_full_room(tmp_path):
    chosen = dict(sorted(json.loads((CLASSROOMS / "heads.json").read_text()).items(),
                         key=lambda item: -len(item[1]))[:2])  # the two fullest photos
    (tmp_path / "heads.json").write_text(json.dumps(chosen))
    run = subprocess.run(
        [sys.executable, "-m", "occusense.cli", "eval", "--images", str(CLASSROOMS / "images"),
         "--heads", str(tmp_path / "heads.json"), "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    people = sum(len(v) for v in chosen.values())
    assert result["rule"] == "heads" and result["people"] == people > 56
    assert result["full_rooms"]["images"] == 2 and result["full_rooms"]["people"] == people
    assert 0 < result["found"] <= people
    assert result["count_error_share"] == round(result["count_error"] * 2 / people, 4)


def test_boxes_and_heads_together_are_a_clear_error(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "occusense.cli", "eval", "--images", str(CLASSROOMS / "images"),
         "--heads", str(CLASSROOMS / "heads.json"), "--boxes", str(CLASSROOMS / "boxes.json")],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "either --boxes" in run.stderr


def test_the_suite_takes_a_rooms_heads_where_it_has_them():
    rules = {name: rule for name, _, _, rule in rooms(SHARED / "data")}
    assert rules["classrooms-web"] == "heads" and rules["clinic-room"] == "boxes"
