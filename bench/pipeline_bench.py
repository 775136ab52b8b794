"""Frames per second of each pipeline stage and of the whole, on the sample.

Decode, detect (tiled and whole-frame), track, analytics (a line, two
regions and a flow area) and the whole pipeline (with reporting) on
vtest.avi, ONNX Runtime with 2 threads; then peak resident memory.

    .venv/bin/python bench/pipeline_bench.py [--frames N]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path

import cv2
import onnxruntime

from occusense.analytics.engine import Analytics
from occusense.config import load_config
from occusense.detect.detector import OnnxDetector
from occusense.detect.presets import SCHEMES
from occusense.pipeline import Pipeline, run_source
from occusense.sources import open_source
from occusense.track import PersonTracker

REPO = Path(__file__).resolve().parents[1]
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def fps(frames: int, seconds: float) -> str:
    return f"{frames / seconds:8.1f} fps  ({seconds / frames * 1000:6.2f} ms/frame)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=795)
    args = parser.parse_args()
    config = load_config(REPO / "examples" / "vtest.yaml")
    print(
        f"machine: {platform.machine()}, {cpu_name()}, {os.cpu_count()} cores, "
        f"onnxruntime {onnxruntime.__version__}, opencv {cv2.__version__}"
    )

    # the whole pipeline first, so that peak memory is the sensor's own
    source = open_source(VIDEO, start_ts=0.0)
    pipeline = Pipeline(config, source.width, source.height, source.fps, 0.0)
    began = time.perf_counter()
    count = run_source(pipeline, source, max_frames=args.frames)
    print(
        f"whole pipeline    {fps(count, time.perf_counter() - began)}  "
        f"({pipeline.times.reports_sent} reports)"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (whole pipeline) {peak_mb:.0f} MB")

    cap = cv2.VideoCapture(VIDEO)
    frames = []
    began = time.perf_counter()
    while len(frames) < args.frames:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    n = len(frames)
    print(f"decode            {fps(n, time.perf_counter() - began)}")

    scheme = SCHEMES[config.general.recognition_scheme]
    results = {}
    for label, tiled in (("detect (tiled)", True), ("detect (1 frame)", False)):
        detector = OnnxDetector(scheme.__class__(**{**scheme.__dict__, "tiled": tiled}))
        detector.detect(frames[0])
        began = time.perf_counter()
        found = [detector.detect(f) for f in frames]
        print(f"{label:17s} {fps(n, time.perf_counter() - began)}")
        results[tiled] = found

    tracker = PersonTracker(frame_rate=10.0)
    began = time.perf_counter()
    tracked = [tracker.update(d, i / 10) for i, d in enumerate(results[True])]
    print(f"track             {fps(n, time.perf_counter() - began)}")

    h, w = frames[0].shape[:2]
    analytics = Analytics(config, w, h)
    began = time.perf_counter()
    for i, people in enumerate(tracked):
        analytics.update(i / 10, people)
    spent = time.perf_counter() - began
    points = sum(len(p) for p in tracked)
    print(f"analytics         {fps(n, spent)}  {points / spent:,.0f} track-point updates/s")


if __name__ == "__main__":
    main()
