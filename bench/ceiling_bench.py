"""Ceiling cameras: accuracy on synthetic overhead scenes and frames/s.

Scenes are built from real footage (people cut from vtest.avi with their
ground-truth boxes, pasted at known positions with their heads pointing away
from the nadir onto the empty walkway). For a 2048x2048 fisheye frame and a
1920x1080 frame it prints the share of people found, extra detections, the
mean position error, and frames/s of detection alone and of region counting
(the whole pipeline, one region covering the frame, and one region covering
a quarter of it so that unused tiles are skipped).

    .venv/bin/python bench/ceiling_bench.py [--scenes N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from occusense.config import parse_config
from occusense.detect.presets import make_ceiling_detector
from occusense.evaluation.mot import load_mot
from occusense.evaluation.overhead import SceneMaker, random_scenes
from occusense.pipeline import Pipeline
from occusense.sources import Frame

VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
GT = Path(__file__).resolve().parents[2] / "shared/data/PETS09-S2L1/gt/gt.txt"
QUARTER = [[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]]


def scenes(maker: SceneMaker, size: int, height: float, count: int):
    return random_scenes(maker, size, height, count, max_people=8, angle_step=40,
                         jitter=10, radii=(0.4, 0.85))


def accuracy(maker: SceneMaker, size: int, height: float, count: int) -> None:
    config = parse_config({"mounting": {"mount": "ceiling"}})
    detector = make_ceiling_detector(config, size, size)
    people = found = extra = exact = 0
    errors: list[float] = []
    began = time.perf_counter()
    for scene in scenes(maker, size, height, count):
        result = detector.find(scene.image)
        if len(result.points):
            dist = np.linalg.norm(result.points[:, None] - scene.points[None], axis=2).min(0)
            hits = dist < 0.35 * height
            errors += dist[hits].tolist()
            found += int(hits.sum())
            extra += len(result.points) - int(hits.sum())
        people += len(scene.points)
        exact += len(result.points) == len(scene.points)
    spent = (time.perf_counter() - began) / count
    print(
        f"{size}x{size}, people {height:.0f} px: found {found}/{people} "
        f"({found / people:.1%}), extra {extra}, exact count {exact}/{count} scenes, "
        f"position error {np.mean(errors):.1f} px, detection {1 / spent:.1f} frames/s "
        f"({len(detector.tiles)} tiles)"
    )


def pipeline_rate(maker: SceneMaker, width: int, height: int, region, frames: int = 20) -> str:
    config = parse_config(
        {
            "mounting": {"mount": "ceiling"},
            "region_counting": {
                "customize_area": True,
                "regions": [{"points": region}],
                "report": {"interval_s": 5},
            },
        }
    )
    size = max(width, height)
    scene = maker.scene(size, [(0.5, a) for a in range(0, 360, 60)], size * 0.09, 1)
    top, left = (size - height) // 2, (size - width) // 2
    image = scene.image[top : top + height, left : left + width].copy()
    pipeline = Pipeline(config, width, height, 10.0, 0.0)
    began = time.perf_counter()
    for i in range(frames):
        pipeline.step(Frame(image, i, i / 10))
    rate = frames / (time.perf_counter() - began)
    tiles = len(pipeline.finder.detector.tiles)  # type: ignore[attr-defined]
    return f"{rate:.1f} frames/s ({tiles} tiles)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=30)
    args = parser.parse_args()
    maker = SceneMaker(VIDEO, load_mot(GT))
    accuracy(maker, 1024, 90.0, args.scenes)
    accuracy(maker, 2048, 200.0, args.scenes)
    whole = [[0, 0], [1, 0], [1, 1], [0, 1]]
    for w, h in ((2048, 2048), (1920, 1080)):
        print(
            f"region counting {w}x{h}: whole frame {pipeline_rate(maker, w, h, whole)}, "
            f"one quarter {pipeline_rate(maker, w, h, QUARTER)}"
        )


if __name__ == "__main__":
    main()
