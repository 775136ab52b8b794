"""Remote inference cost: frames/s of the detector with the network run here
(ONNX Runtime) and on a KServe v2 server on this host (the tests' server,
the same model on ONNX Runtime), with binary and with JSON tensors. On one
host the remote figures show the protocol's overhead; on a GPU server the
network runs far faster and the sensor keeps only the pre/post-processing.

    .venv/bin/python bench/remote_bench.py [--frames 60]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from occusense.config import parse_config
from occusense.config.device import RecognitionScheme
from occusense.detect.presets import make_detector
from tests.conftest import SAMPLE_VIDEO
from tests.detect.kserve_server import KServeServer


def rate(detector, frames) -> float:
    detector.detect(frames[0])  # warm up
    began = time.perf_counter()
    for frame in frames:
        detector.detect(frame)
    return len(frames) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--input", default="whole", help="tiles | whole | stretched")
    args = parser.parse_args()
    capture = cv2.VideoCapture(str(SAMPLE_VIDEO))
    frames = [capture.read()[1] for _ in range(args.frames)]
    server = KServeServer()
    try:
        variants = {
            "local (ONNX Runtime, 2 threads)": {},
            "KServe v2, binary tensors": {"remote_url": server.url},
            "KServe v2, JSON tensors": {"remote_url": server.url, "remote_binary": False},
        }
        print(f"{args.frames} frames of vtest.avi, input {args.input}")
        for name, extra in variants.items():
            config = parse_config({"detector": {"input": args.input, **extra}})
            detector = make_detector(config.detector, RecognitionScheme.algorithm_2)
            print(f"{name:34s} {rate(detector, frames):6.1f} frames/s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
