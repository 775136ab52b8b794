"""Still-image accuracy (issues 25 and 35): how many of a room's people the
detector finds, on an image folder with its people marked by a boxes file
or a heads file.

- ``--boxes``: ``{image name: [[x1, y1, x2, y2, cls], ...]}`` in pixels
  (``../shared/data/clinic-room/boxes.json``), one box per visible person,
  every class a person. A detection matches a person when its box centre
  lies inside that person's box.
- ``--heads``: ``{image name: [[x, y], ...]}`` in pixels, one head point per
  person (``../shared/data/classrooms-web/heads.json``; in a full room the
  head is what is seen). A person is found when a detection's box contains
  their head point.

Both one to one (the assignment that matches the most:
``scipy.optimize.linear_sum_assignment``). Reported: people found (recall),
false people a frame (detections matching nobody), the count error a frame
(|people detected - people there|, what an occupancy figure suffers), the
same for the frames with more than ``FULL`` people (full rooms), and frames
a second.

    occusense eval --images DIR (--boxes boxes.json | --heads heads.json) [--config FILE]
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
    return _marks(path, 4, "boxes are [x1, y1, x2, y2, cls]")


def load_heads(path: Path) -> dict[str, np.ndarray]:
    """Each image's head points (N x 2, pixels)."""
    return _marks(path, 2, "head points are [x, y]")


def _marks(path: Path, width: int, shape: str) -> dict[str, np.ndarray]:
    """``{image name: [[...], ...]}``: each row's first ``width`` numbers."""
    try:
        data = load_json(path.read_bytes(), str(path))
    except (OSError, DocumentError) as exc:
        raise OccusenseError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise OccusenseError(f"{path}: expected {{image name: [...]}}: {shape}")
    out = {}
    for name, rows in data.items():
        try:
            marks = np.asarray([row[:width] for row in rows], np.float64).reshape(-1, width)
        except (TypeError, ValueError, IndexError):
            raise OccusenseError(f"{path}: {name}: {shape}") from None
        out[str(name)] = marks
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


FULL = 28  # a frame with more people than this is a full room (reported apart)


def evaluate_stills(images: Path, truth_file: Path, config: DeviceConfig,
                    rule: str = "boxes") -> dict:
    """People found, false people and count error on every image of the
    truth file (read from ``images``); ``rule``: ``boxes`` (a detection's
    centre in a person's box) or ``heads`` (a person's head point in a
    detection's box)."""
    truth = load_heads(truth_file) if rule == "heads" else load_boxes(truth_file)
    detectors: dict[tuple[int, int], Any] = {}
    tally = {"all": [0, 0, 0, 0.0, 0], "full": [0, 0, 0, 0.0, 0]}  # found, people, false, |err|, n
    seconds = 0.0
    for name, marked in sorted(truth.items()):
        path = images / name
        if not path.is_file():  # names kept with their folder ("images/<file>")
            path = images / Path(name).name
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OccusenseError(f"{images / name}: missing or not a readable image")
        h, w = image.shape[:2]
        if (w, h) not in detectors:  # the scene's finder, as the sensor would run it
            detectors[(w, h)] = detector_for(config, w, h, threads=config.detector.threads)
            if hasattr(detectors[(w, h)], "wait_for_heads"):  # each image's own faces
                detectors[(w, h)].wait_for_heads = True
        detector = detectors[(w, h)]
        began = time.perf_counter()
        detected = detector.detect(image).boxes
        seconds += time.perf_counter() - began
        if rule == "heads":
            hits = matched(marked, detected)
        else:
            hits = matched((detected[:, :2] + detected[:, 2:]) / 2, marked)
        for key in ("all", "full") if len(marked) > FULL else ("all",):
            row = tally[key]
            row[0] += hits
            row[1] += len(marked)
            row[2] += len(detected) - hits
            row[3] += abs(len(detected) - len(marked))
            row[4] += 1
    found, people, false, error, frames = tally["all"]
    full_found, full_people, _, full_error, full_frames = tally["full"]
    return {
        "images": frames,
        "people": people,
        "found": found,
        "recall": round(found / people, 4) if people else 1.0,
        "false_per_frame": round(false / frames, 3) if frames else 0.0,
        "count_error": round(error / frames, 3) if frames else 0.0,
        "count_error_share": round(error / people, 4) if people else 0.0,
        "full_rooms": {"images": full_frames, "people": full_people,
                       "recall": round(full_found / full_people, 4) if full_people else None,
                       "count_error_share": round(full_error / full_people, 4)
                       if full_people else None},
        "rule": rule,
        "fps": round(frames / seconds, 2) if seconds else None,
        "detector": "; ".join(sorted({getattr(d, "describe", lambda d=d: d.name)()
                                      for d in detectors.values()})),
    }


def stills_markdown(rows: list[dict]) -> list[str]:
    out = ["| room (still frames) | rule | images | people | people found | false people /frame "
           "| count error /frame | found in full rooms | frames/s |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        full = r.get("full_rooms", {})
        full_text = (f"{full['recall']:.1%} ({full['images']} frames)"
                     if full.get("images") else "–")
        out.append(f"| {r['room']} | {r.get('rule', 'boxes')} | {r['images']} | {r['people']} "
                   f"| {r['recall']:.1%} | {r['false_per_frame']:.2f} | {r['count_error']:.2f} "
                   f"| {full_text} | {r['fps']} |")
    return out


def rooms(data: Path) -> list[tuple[str, Path, Path, str]]:
    """The still-frame rooms of a data folder: name, images, truth file and
    rule (a heads file where there is one: a full room's people are heads)."""
    out = []
    for folder in sorted(data.iterdir()):
        if not (folder / "images").is_dir():
            continue
        if (folder / "heads.json").is_file():
            out.append((folder.name, folder / "images", folder / "heads.json", "heads"))
        elif (folder / "boxes.json").is_file():
            out.append((folder.name, folder / "images", folder / "boxes.json", "boxes"))
    return out
