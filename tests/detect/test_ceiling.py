"""Ceiling cameras: the unwrap geometry, synthetic overhead scenes from real
footage, the detect command and the whole chain to region reports."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest

from occusense.config import parse_config
from occusense.detect.ceiling import PolarUnwrap
from occusense.detect.presets import make_ceiling_detector
from occusense.evaluation.mot import load_mot
from occusense.evaluation.overhead import SceneMaker, random_scenes
from tests.conftest import PETS_GT, REPO, check_shapes

CEILING = {"mounting": {"mount": "ceiling"}}


@pytest.fixture(scope="module")
def maker(sample_video) -> SceneMaker:
    return SceneMaker(str(sample_video), load_mot(PETS_GT))


@pytest.mark.parametrize("lens", ["fisheye", "rectilinear"])
@pytest.mark.parametrize("size", [(1024, 1024), (1920, 1080)])
def test_points_survive_image_panorama_image(lens, size) -> None:
    unwrap = PolarUnwrap.for_image(*size, lens=lens)
    rng = np.random.default_rng(1)
    radius = rng.uniform(unwrap.r_min, unwrap.r_max, 500)
    # angles on both sides of the 0/360-degree seam, and everywhere else
    angle = np.concatenate([rng.uniform(-0.05, 0.05, 100), rng.uniform(0, 2 * math.pi, 400)])
    xy = np.stack(
        [unwrap.centre[0] + radius * np.cos(angle), unwrap.centre[1] + radius * np.sin(angle)],
        axis=1,
    )
    uv = unwrap.to_panorama(xy)
    assert (uv[:, 0] >= 0).all() and (uv[:, 0] < unwrap.width).all()
    assert np.abs(unwrap.to_image(uv) - xy).max() < 1.0


@pytest.mark.parametrize("lens", ["fisheye", "rectilinear"])
def test_box_corners_survive_across_the_seam(lens) -> None:
    unwrap = PolarUnwrap.for_image(1024, 1024, lens=lens)
    w = unwrap.width
    # a box straddling the seam: columns w-20 .. w+20
    corners = np.array([[w - 20, 100], [w + 20, 100], [w + 20, 200], [w - 20, 200]], float)
    back = unwrap.to_panorama(unwrap.to_image(corners))
    wrapped = np.mod(corners[:, 0], w)
    assert np.abs((back[:, 0] - wrapped + w / 2) % w - w / 2).max() < 1.0
    assert np.abs(back[:, 1] - corners[:, 1]).max() < 1.0


def test_rectilinear_keeps_far_people_smaller_in_the_panorama() -> None:
    fish = PolarUnwrap.for_image(1024, 1024, lens="fisheye")
    rect = PolarUnwrap.for_image(1024, 1024, lens="rectilinear", fov_deg=120)
    outer = np.array([[512 + 480.0, 512.0], [512 + 440.0, 512.0]])
    rows = lambda u: abs(np.diff(u.to_panorama(outer)[:, 1])[0])  # noqa: E731
    assert rows(rect) < rows(fish)


def scenes(maker: SceneMaker, size: int, height: float, count: int):
    return random_scenes(maker, size, height, count, max_people=6, angle_step=45,
                         jitter=8, radii=(0.45, 0.85))


def match(found: np.ndarray, truth: np.ndarray, tolerance: float) -> tuple[int, np.ndarray]:
    if len(found) == 0:
        return 0, np.zeros(0)
    dist = np.linalg.norm(found[:, None] - truth[None], axis=2)
    best = dist.min(axis=0)
    return int((best < tolerance).sum()), best[best < tolerance]


def test_synthetic_overhead_scenes_count_and_positions(maker) -> None:
    detector = make_ceiling_detector(parse_config(CEILING), 1024, 1024)
    people = found = extra = 0
    errors = []
    for scene in scenes(maker, 1024, 90.0, 12):
        result = detector.find(scene.image)
        hit, err = match(result.points, scene.points, 0.35 * 90)
        people += len(scene.points)
        found += hit
        extra += len(result.points) - hit
        errors += err.tolist()
    assert people >= 30
    assert found / people >= 0.85, (found, people)
    assert extra <= 0.05 * people
    assert np.mean(errors) < 0.15 * 90


@pytest.mark.parametrize("angle", [358.0, 0.0, 1.5])
@pytest.mark.parametrize("seed", [0, 5])
def test_people_on_the_seam_are_found_once(maker, angle, seed) -> None:
    detector = make_ceiling_detector(parse_config(CEILING), 1024, 1024)
    scene = maker.scene(1024, [(0.65, angle), (0.6, 180.0)], 90.0, seed=seed)
    result = detector.find(scene.image)
    hit, _ = match(result.points, scene.points, 0.35 * 90)
    assert hit == len(scene.points) == len(result.points) == 2


def test_tiles_outside_the_used_area_are_skipped() -> None:
    whole = make_ceiling_detector(parse_config(CEILING), 1024, 1024)
    one_quadrant = make_ceiling_detector(
        parse_config(
            CEILING
            | {
                "region_counting": {
                    "customize_area": True,
                    "regions": [{"points": [[0, 0], [0.45, 0], [0.45, 0.45], [0, 0.45]]}],
                }
            }
        ),
        1024,
        1024,
    )
    assert 0 < len(one_quadrant.tiles) < len(whole.tiles) / 2


def test_detect_command_prints_people_per_image(maker, tmp_path) -> None:
    truth = {}
    for i, scene in enumerate(scenes(maker, 1024, 90.0, 2)):
        cv2.imwrite(str(tmp_path / f"view{i}.png"), scene.image)
        truth[f"view{i}.png"] = scene.points
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "occusense.cli",
            "detect",
            str(tmp_path),
            "--mount",
            "ceiling",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["image"] for r in rows] == sorted(truth)
    for row in rows:
        assert row["people"] == len(row["detections"])
        points = np.array([[d["x"], d["y"]] for d in row["detections"]])
        hit, _ = match(points, truth[row["image"]], 0.35 * 90)
        assert hit >= len(truth[row["image"]]) - 1


def test_whole_chain_from_a_ceiling_config_to_region_reports(maker, tmp_path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    # three people on the right half (region 1), one on the left (region 2),
    # walking slowly around the nadir for 60 frames (6 s at 10 fps)
    for i in range(60):
        polar = [
            (0.6, 300.0 + i / 2),
            (0.7, 20.0 + i / 2),
            (0.55, 60.0 + i / 2),
            (0.65, 200.0 - i / 2),
        ]
        scene = maker.scene(1024, polar, 90.0, seed=7)
        cv2.imwrite(str(frames / f"{i:04d}.jpg"), scene.image)
    config = tmp_path / "ceiling.yaml"
    config.write_text(
        json.dumps(
            CEILING
            | {
                "region_counting": {
                    "customize_area": True,
                    "debounce_s": 1,
                    "regions": [
                        {"points": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]},
                        {"points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
                    ],
                    "report": {"interval_s": 5, "report_by_result": True},
                }
            }
        )
    )
    config = config.rename(tmp_path / "ceiling.json")
    out = tmp_path / "reports.jsonl"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "occusense.cli",
            "run",
            "--source",
            str(frames),
            "--config",
            str(config),
            "--out",
            str(out),
            "--no-web",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    reports = [json.loads(line) for line in out.read_text().splitlines()]
    final = [r for r in reports if r["report_type"] == "interval"][-1]
    assert final["current_counted"] == [3, 1] and final["current_total"] == 4
    assert check_shapes(out).returncode == 0


def test_people_near_the_nadir_are_found_in_the_second_ring(maker) -> None:
    """Issue 17: people at 0.15-0.4 of the radius are squeezed into the main
    panorama's last rows; the nadir ring finds them."""
    from occusense.evaluation.overhead import measure_scenes

    def recall(nadir_ring: bool) -> float:
        config = parse_config({"mounting": {"mount": "ceiling", "nadir_ring": nadir_ring}})
        detector = make_ceiling_detector(config, 1024, 1024)
        near = random_scenes(maker, 1024, 90.0, 10, 6, 60, 15, (0.15, 0.40))
        return measure_scenes(detector, near)["recall"]

    with_ring, without = recall(True), recall(False)
    assert with_ring >= 0.8 and with_ring >= without + 0.2, (with_ring, without)
