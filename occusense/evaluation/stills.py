"""Still-image accuracy (issue 25): how many of a room's people the detector
finds, on an image folder with a boxes file.

The boxes file is ``{image name: [[x1, y1, x2, y2, cls], ...]}`` in pixels
(``../shared/data/clinic-room/boxes.json``), one box per visible person,
every class a person. A detection matches a person when its box centre lies
inside that person's box, one to one (the assignment that matches the most:
``scipy.optimize.linear_sum_assignment``). Reported: people found (recall),
false people a frame (detections matching nobody), the count error a frame
(|people detected - people there|, what an occupancy figure suffers) and
frames a second.

    occusense eval --images DIR --boxes boxes.json [--config FILE] [--json]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from occusense.config.model import DeviceConfig
from occusense.documents import DocumentError, load_json
from occusense.errors import OccusenseError
from occusense.pipeline import detector_for


def load_boxes(path: Path) -> dict[str, np.ndarray]:
    """Each image's person boxes (N x 4, pixels)."""
    try:
        data = load_json(path.read_bytes(), str(path))
    except (OSError, DocumentError) as exc:
        raise OccusenseError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise OccusenseError(f"{path}: expected {{image name: [[x1, y1, x2, y2, cls], ...]}}")
    out = {}
    for name, rows in data.items():
        try:
            boxes = np.asarray([row[:4] for row in rows], np.float64).reshape(-1, 4)
        except (TypeError, ValueError, IndexError):
            raise OccusenseError(f"{path}: {name}: boxes are [x1, y1, x2, y2, cls]") from None
        out[str(name)] = boxes
    return out


def matched(points: np.ndarray, boxes: np.ndarray) -> int:
    """How many points lie inside a box of their own (one to one, most pairs)."""
    if len(points) == 0 or len(boxes) == 0:
        return 0
    x, y = points[:, 0:1], points[:, 1:2]
    inside = ((x >= boxes[None, :, 0]) & (x <= boxes[None, :, 2])
              & (y >= boxes[None, :, 1]) & (y <= boxes[None, :, 3]))
    rows, cols = linear_sum_assignment(~inside)  # cost 0 where inside
    return int(inside[rows, cols].sum())


def evaluate_stills(images: Path, boxes_file: Path, config: DeviceConfig) -> dict:
    """People found, false people and count error on every image of the
    boxes file (read from ``images``)."""
    truth = load_boxes(boxes_file)
    detectors: dict[tuple[int, int], Any] = {}
    found = people = false = 0
    errors: list[int] = []
    seconds = 0.0
    for name, boxes in sorted(truth.items()):
        image = cv2.imread(str(images / name), cv2.IMREAD_COLOR)
        if image is None:
            raise OccusenseError(f"{images / name}: missing or not a readable image")
        h, w = image.shape[:2]
        if (w, h) not in detectors:  # the scene's finder, as the sensor would run it
            detectors[(w, h)] = detector_for(config, w, h, threads=config.detector.threads)
        detector = detectors[(w, h)]
        began = time.perf_counter()
        detected = detector.detect(image).boxes
        seconds += time.perf_counter() - began
        centres = (detected[:, :2] + detected[:, 2:]) / 2
        hits = matched(centres, boxes)
        found, people = found + hits, people + len(boxes)
        false += len(detected) - hits
        errors.append(abs(len(detected) - len(boxes)))
    frames = len(truth)
    return {
        "images": frames,
        "people": people,
        "found": found,
        "recall": round(found / people, 4) if people else 1.0,
        "false_per_frame": round(false / frames, 3) if frames else 0.0,
        "count_error": round(sum(errors) / frames, 3) if frames else 0.0,
        "fps": round(frames / seconds, 2) if seconds else None,
        "detector": "; ".join(getattr(d, "describe", lambda d=d: d.name)()
                              for d in detectors.values()),
    }


def stills_markdown(rows: list[dict]) -> list[str]:
    out = ["| room (still frames) | images | people | people found | false people /frame "
           "| count error /frame | frames/s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['room']} | {r['images']} | {r['people']} | {r['recall']:.1%} "
                   f"| {r['false_per_frame']:.2f} | {r['count_error']:.2f} | {r['fps']} |")
    return out


def rooms(data: Path) -> list[tuple[str, Path, Path]]:
    """The still-frame rooms of a data folder: name, images, boxes."""
    return [(folder.name, folder / "images", folder / "boxes.json")
            for folder in sorted(data.iterdir())
            if (folder / "boxes.json").is_file() and (folder / "images").is_dir()]
