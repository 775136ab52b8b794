"""What the RTSP output costs (issue 27): CPU, delay, and the counting rate.

1. The output alone: frames of the sample (scaled to 768x576 or 1280x720)
   pushed at 10 or 25 frames/s for ``--seconds``, with 0, 1 and 4 viewers
   (OpenCV/FFmpeg clients over RTP/TCP, each in its own process). The
   server's CPU is this process's CPU time (encoding, RTP, RTSP), in % of
   one core; the viewers' decoding is theirs, not counted here (measured
   apart, one viewer's process time).
2. The delay from a frame pushed to the same frame decoded by a viewer:
   each frame carries its number in a row of black/white blocks, the viewer
   prints when it decoded which number; both clocks are this machine's.
3. The sensor counting the sample as fast as it can (walkway detector,
   stream on), with no viewer and with one: frames/s.

    .venv/bin/python bench/rtsp_bench.py [--seconds 10] [--frames 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from occusense.config import load_config
from occusense.config.device import RtspSettings
from occusense.rtsp import RtspOutput
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.state import SensorState

REPO = Path(__file__).resolve().parents[1]
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
BITS = 16
BLOCK = 24

VIEWER = """
import cv2, json, sys, time
import numpy as np
BITS, BLOCK = int(sys.argv[3]), int(sys.argv[4])
capture = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
began = time.time()
seen = []
while time.time() - began < float(sys.argv[2]):
    ok, frame = capture.read()
    if not ok:
        break
    row = frame[BLOCK // 2, BLOCK // 2::BLOCK][:BITS].mean(axis=1)
    number = sum(1 << i for i, v in enumerate(row) if v > 128)
    seen.append((number, time.time()))
print(json.dumps({"seen": seen, "cpu": time.process_time()}))
"""


def sample_frames(size: tuple[int, int], count: int = 100) -> list[np.ndarray]:
    capture = cv2.VideoCapture(VIDEO)
    frames = []
    for _ in range(count):
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(image, size))
    return frames


def stamp(image: np.ndarray, number: int) -> np.ndarray:
    """``number`` written as BITS blocks along the top (white = 1)."""
    out = image.copy()
    for bit in range(BITS):
        value = 255 if number >> bit & 1 else 0
        out[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = value
    return out


def start_viewers(url: str, count: int, seconds: float) -> list[subprocess.Popen]:
    env = dict(os.environ, OPENCV_FFMPEG_CAPTURE_OPTIONS="rtsp_transport;tcp")
    return [subprocess.Popen([sys.executable, "-c", VIEWER, url, str(seconds), str(BITS),
                              str(BLOCK)], env=env,
                             stdout=subprocess.PIPE, text=True) for _ in range(count)]


def output_cost(size: tuple[int, int], fps: int, viewers: int, seconds: float) -> dict:
    output = RtspOutput(RtspSettings(enabled=True, port=free_port()), *size, fps)
    frames = sample_frames(size)
    url = f"rtsp://127.0.0.1:{output.port}/main"
    clients = start_viewers(url, viewers, seconds + 4)
    pushed: dict[int, float] = {}
    time.sleep(3 if viewers else 0)  # the viewers connect, their decoders start
    cpu0, wall0 = time.process_time(), time.perf_counter()
    number = 0
    while time.perf_counter() - wall0 < seconds:
        due = wall0 + number / fps
        time.sleep(max(0.0, due - time.perf_counter()))
        image = stamp(frames[number % len(frames)], number)
        pushed[number] = time.time()
        output.push(image)
        number += 1
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    output.close()  # the viewers' streams end
    steady = number // 3  # the delay once the viewers' buffers have settled
    delays, viewer_cpu, rates = [], [], []
    for client in clients:
        out, _ = client.communicate(timeout=60)
        body = json.loads(out.strip().splitlines()[-1])
        seen = [(n, t) for n, t in body["seen"] if n in pushed]
        delays += [t - pushed[n] for n, t in seen if n >= steady]
        viewer_cpu.append(body["cpu"])
        rates.append(len({n for n, _ in seen}) / wall)
    return {"size": f"{size[0]}x{size[1]}", "fps": fps, "viewers": viewers,
            "server_cpu_pct": round(100 * cpu / wall, 1),
            "frames_per_viewer_s": round(statistics.mean(rates), 1) if rates else None,
            "delay_ms_median": round(1000 * statistics.median(delays)) if delays else None,
            "delay_ms_p90": round(1000 * sorted(delays)[int(0.9 * len(delays))])
            if delays else None,
            "viewer_cpu_s": round(statistics.mean(viewer_cpu), 1) if viewer_cpu else None}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def counting_rate(frames: int, viewers: int) -> float:
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.output.jsonl_path = ""
    config.state_dir = f"/tmp/occusense-rtsp-bench-{viewers}"
    config.detector.scene = "walkway"  # type: ignore[assignment]
    port = free_port()
    config.rtsp = RtspSettings(enabled=True, port=port)
    state = SensorState(config)
    runner = SensorRunner(state, open_source(VIDEO, loop=True), 0.0, [])
    thread = threading.Thread(target=runner.run, kwargs={"max_frames": 40 + frames})
    thread.start()
    while state.run.frames < 20:
        time.sleep(0.05)
    clients = start_viewers(f"rtsp://127.0.0.1:{port}/main", viewers, 600)
    while viewers and not (runner.rtsp and runner.rtsp.watched):
        time.sleep(0.05)
    start, began = state.run.frames, time.perf_counter()
    while state.run.frames < start + frames and thread.is_alive():
        time.sleep(0.05)
    rate = (state.run.frames - start) / (time.perf_counter() - began)
    runner.stop()
    thread.join()
    for client in clients:
        client.kill()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    print("| picture | frames/s | viewers | server CPU (% of a core) | frames/s at each "
          "viewer | delay median / p90 (ms) |")
    print("|---|---|---|---|---|---|")
    for size in ((768, 576), (1280, 720)):
        for fps in (10, 25):
            for viewers in (0, 1, 4):
                r = output_cost(size, fps, viewers, args.seconds)
                print(f"| {r['size']} | {fps} | {viewers} | {r['server_cpu_pct']} | "
                      f"{r['frames_per_viewer_s'] or '–'} | "
                      f"{r['delay_ms_median'] or '–'} / {r['delay_ms_p90'] or '–'} |",
                      flush=True)
    alone = counting_rate(args.frames, 0)
    watched = counting_rate(args.frames, 1)
    print(f"\ncounting the sample (walkway detector, stream on): {alone:.1f} frames/s with "
          f"no viewer, {watched:.1f} with one ({100 * (watched / alone - 1):+.1f}%)")


if __name__ == "__main__":
    main()
