"""People found, false people and speed of each person finder (issue 25), on
the room (clinic-room stills) and on the walkways (PETS09-S2L1 every 10th
frame, TUD-Campus every 5th), all with one rule: a detection matches a
person when its box centre lies in that person's box, one to one.

    .venv/bin/python bench/rooms_bench.py [--data ../shared/data] [--threads 2]

Prints a markdown table: finder, footage, people, found, false people a
frame, count error a frame, ms a frame.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from occusense.config import DeviceConfig
from occusense.config.device import RecognitionScheme
from occusense.detect.presets import make_detector
from occusense.detect.rooms import RoomFinder, fuse
from occusense.evaluation.mot import load_mot
from occusense.evaluation.stills import load_boxes, matched

SAMPLE_VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


class CenterNetWhole:
    """CenterNet on the whole frame alone (one view), for comparison."""

    name = "CenterNet, whole frame"

    def __init__(self, finder: RoomFinder, threshold: float) -> None:
        self.finder, self.threshold = finder, threshold

    def detect(self, frame):
        boxes, scores = fuse([self.finder.infer(frame)])
        keep = scores >= self.threshold
        return type("Found", (), {"boxes": boxes[keep]})


def footage(data: Path):
    """(name, [(image, true boxes N x 4)])."""
    room = data / "clinic-room"
    truth = load_boxes(room / "boxes.json")
    yield "clinic-room", [(cv2.imread(str(room / "images" / n)), b) for n, b in truth.items()]
    for name, path, every in (("PETS09-S2L1", SAMPLE_VIDEO, 10),
                              ("TUD-Campus", str(data / "TUD-Campus/TUD-Campus.mp4"), 5)):
        gt = load_mot(data / name / "gt/gt.txt")
        capture, frames, index = cv2.VideoCapture(path), [], 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            index += 1
            if index % every == 0:
                _, boxes = gt.at(index)
                frames.append((image, np.asarray(boxes, np.float64).reshape(-1, 4)))
        yield name, frames


def measure(finder, frames) -> dict:
    found = people = false = 0
    errors, seconds = [], 0.0
    for image, truth in frames:
        began = time.perf_counter()
        boxes = np.asarray(finder.detect(image).boxes).reshape(-1, 4)
        seconds += time.perf_counter() - began
        hits = matched((boxes[:, :2] + boxes[:, 2:]) / 2, truth)
        found, people, false = found + hits, people + len(truth), false + len(boxes) - hits
        errors.append(abs(len(boxes) - len(truth)))
    n = len(frames)
    return {"people": people, "found": found / people, "false": false / n,
            "error": sum(errors) / n, "ms": 1000 * seconds / n}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config = DeviceConfig()
    room = RoomFinder(threads=args.threads)
    finders = {
        "NanoDet (walkway, default)": make_detector(config.detector, RecognitionScheme.algorithm_2,
                                                    threads=args.threads),
        "CenterNet, whole frame, 0.2": CenterNetWhole(room, 0.2),
        "room finder (CenterNet, 4 views)": room,
    }
    print("| finder | footage | people | found | false /frame | count error /frame | ms /frame |")
    print("|---|---|---|---|---|---|---|")
    for name, frames in footage(args.data):
        for label, finder in finders.items():
            r = measure(finder, frames)
            print(f"| {label} | {name} | {r['people']} | {r['found']:.1%} | {r['false']:.2f} "
                  f"| {r['error']:.2f} | {r['ms']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
