"""Frame rate side by side, in one run (issue: real time on two CPU cores).

1. The off-the-shelf chain: OpenCV decode, NanoDet (one stretched 416x416
   inference), ByteTrack from the ``trackers`` package, supervision's
   LineZone, in one plain loop.
2. occusense's whole pipeline with the default settings (the whole frame
   at its own aspect in one inference, on every frame; two frames detected
   at once on one core each), on every 2nd frame, and with the other inputs:
   ``tiles`` (two 416 px tiles a frame: the crowd setting), ``stretched``
   (the chain's input); and tiles on every 2nd frame.
3. The detector alone on the same decoded frames, on the frames the
   variant detects (the overhead reference).
4. N cameras in one process (the sample, looped), round robin.
5. Resident memory at start and end of a long run, in a fresh process
   (``--long-frames 36000`` = one hour of the 10 frames/s sample).

    .venv/bin/python bench/speed_bench.py [--frames 795] [--long-frames 3000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from occusense.config import load_config
from occusense.detect.detector import OnnxDetector
from occusense.detect.presets import settings_for
from occusense.pipeline import Pipeline, detect_ahead, run_source
from occusense.sources import Frame, open_source

REPO = Path(__file__).resolve().parents[1]
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sample_config():
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.output.jsonl_path = ""
    return config


def read_frames(count: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The first ``count`` frames of the sample, decoded (and resized) beforehand."""
    cap = cv2.VideoCapture(VIDEO)
    images = []
    while len(images) < count:
        ok, image = cap.read()
        if not ok:
            break
        images.append(cv2.resize(image, size) if size else image)
    return images


def off_the_shelf(frames: int) -> float:
    detector = OnnxDetector()  # one stretched inference, score 0.35
    tracker = ByteTrackTracker(frame_rate=10.0)
    line = sv.LineZone(
        start=sv.Point(400, 100),
        end=sv.Point(400, 500),
        triggering_anchors=[sv.Position.BOTTOM_CENTER],
    )
    cap = cv2.VideoCapture(VIDEO)
    began = time.perf_counter()
    count = 0
    while count < frames:
        ok, image = cap.read()
        if not ok:
            break
        found = detector.detect(image)
        dets = sv.Detections(
            xyxy=found.boxes.astype(np.float32),
            confidence=found.scores,
            class_id=np.zeros(len(found), dtype=int),
        )
        line.trigger(tracker.update(dets))
        count += 1
    return count / (time.perf_counter() - began)


def ours(frames: int, **detector: object) -> tuple[float, Pipeline]:
    config = sample_config()
    for key, value in detector.items():
        setattr(config.detector, key, value)
    source = open_source(VIDEO, start_ts=0.0)
    pipeline = Pipeline(config, source.width, source.height, source.fps, 0.0)
    began = time.perf_counter()
    count = run_source(pipeline, source, max_frames=frames)
    return count / (time.perf_counter() - began), pipeline


def detector_only(frames: int, **detector: object) -> float:
    """The pipeline's detector alone, as the pipeline runs it (one core per
    inference, ``threads`` frames at once, every ``detect_every``-th frame),
    on frames decoded beforehand; frames/s of the whole stream."""
    config = sample_config()
    for key, value in detector.items():
        setattr(config.detector, key, value)
    found = OnnxDetector(
        settings_for(config.detector, config.general.recognition_scheme), threads=1
    )
    images = read_frames(frames)
    detected = images[:: config.detector.detect_every]
    began = time.perf_counter()
    with ThreadPoolExecutor(config.detector.threads) as pool:
        list(pool.map(found.detect, detected))
    return len(images) / (time.perf_counter() - began)


def hd720(frames: int, **detector: object) -> float:
    """The sample upscaled to 1280x720 (no 720p footage ships with the data)."""
    config = sample_config()
    for key, value in detector.items():
        setattr(config.detector, key, value)
    images = read_frames(frames, (1280, 720))
    pipeline = Pipeline(config, 1280, 720, 10.0, 0.0)
    began = time.perf_counter()
    frames = (Frame(image, i, i / 10) for i, image in enumerate(images))
    for planned in detect_ahead(pipeline.finder, frames):
        pipeline.step(planned)
    return len(images) / (time.perf_counter() - began)


def cameras(n: int, frames: int) -> float:
    """``n`` cameras in one process sharing one detector and its 2 cores:
    frames of all cameras, round robin, are detected two at a time, and each
    camera tracks and counts its own frames in order."""
    config = sample_config()
    sources = [open_source(VIDEO, start_ts=0.0) for _ in range(n)]
    shared = OnnxDetector(
        settings_for(config.detector, config.general.recognition_scheme), threads=1
    )
    pipelines = [Pipeline(config, s.width, s.height, s.fps, 0.0, detector=shared) for s in sources]
    streams = [s.frames() for s in sources]
    window: deque = deque()
    began = time.perf_counter()
    with ThreadPoolExecutor(config.detector.threads) as pool:
        for _ in range(frames):
            for pipeline, stream in zip(pipelines, streams, strict=True):
                window.append((pipeline, pipeline.finder.plan(next(stream), pool)))
                if len(window) > config.detector.threads:
                    ready, planned = window.popleft()
                    ready.step(planned)
        for ready, planned in window:
            ready.step(planned)
    return frames / (time.perf_counter() - began)


def long_run(frames: int) -> tuple[float, float]:
    """RSS after warm-up and after ``frames`` more frames of the looped sample
    (the media time of ``frames`` at 10 frames/s: 36000 frames = 1 hour)."""
    config = sample_config()
    pipeline = Pipeline(config, 768, 576, 10.0, 0.0)
    cap = cv2.VideoCapture(VIDEO)

    def frame(i: int) -> Frame:
        ok, image = cap.read()
        if not ok:  # loop the sample
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = cap.read()
        return Frame(image, i, i / 10)

    def run(first: int, count: int) -> None:
        stream = (frame(i) for i in range(first, first + count))
        for planned in detect_ahead(pipeline.finder, stream):
            pipeline.step(planned)
            done = planned.frame.index - first + 1
            if count > 1000 and done % 3600 == 0:  # every 6 minutes of media time
                print(f"  RSS {rss_mb():.0f} MB after {done} frames", flush=True)

    run(0, 100)
    start = rss_mb()
    run(100, frames)
    return start, rss_mb()


VARIANTS = {
    "defaults (whole, every frame)": {},
    "whole, every 2nd frame": {"detect_every": 2},
    "tiles, every frame (crowd setting)": {"input": "tiles"},
    "stretched, every frame": {"input": "stretched"},
    "tiles, every 2nd frame": {"input": "tiles", "detect_every": 2},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=795)
    parser.add_argument("--long-frames", type=int, default=3000)
    parser.add_argument("--rss-only", action="store_true", help="only the memory run")
    args = parser.parse_args()
    if args.rss_only:
        start, end = long_run(args.long_frames)
        print(f"RSS: {start:.0f} MB after warm-up, {end:.0f} MB after {args.long_frames} frames")
        return
    print(f"vtest.avi 768x576, {args.frames} frames, 2 cores for inference")
    chain = off_the_shelf(args.frames)
    print(f"off-the-shelf chain (NanoDet 416 + ByteTrack + LineZone): {chain:6.1f} frames/s")
    for label, detector in VARIANTS.items():
        rate, _ = ours(args.frames, **detector)
        alone = detector_only(args.frames, **detector)
        print(
            f"occusense, {label:38s} {rate:6.1f} frames/s = {rate / chain:4.2f}x the chain; "
            f"detector alone {alone:6.1f} -> pipeline overhead {alone / rate - 1:+.1%}"
        )
    for label, detector in list(VARIANTS.items())[:3]:
        rate = hd720(min(args.frames, 300), **detector)
        print(f"occusense, {label}, 1280x720 frames (decoded beforehand): {rate:6.1f} frames/s")
    for n in (1, 2, 4, 8):
        per = cameras(n, max(40, 200 // n))
        print(f"{n} camera(s) in one process: {per:6.1f} frames/s each, {per * n:6.1f} total")
    # in a process of its own: the variants above leave their sessions behind
    subprocess.run(
        [sys.executable, __file__, "--rss-only", "--long-frames", str(args.long_frames)],
        check=True,
    )


if __name__ == "__main__":
    main()
