"""Many cameras in one process (issue 20): what the shared detector pool and
batching buy on this machine.

For 1, 2, 4 and 8 cameras (each the sample video through a full sensor:
``SensorRunner`` with the example's regions, line and flow), in three ways:

- ``separate``: every camera its own detector (one ONNX Runtime session per
  camera, two frames detected at once per camera: what N ``occusense run``
  threads would do);
- ``pooled``: one pool of 2 sessions (1 core each) shared by the cameras,
  one input per inference;
- ``batched``: the same pool, waiting inputs of several cameras run as one
  batch (up to 8).

Measured, each case in a fresh process:

- total frames/s, unpaced (as fast as the cameras can be counted), in the
  steady state (from when the last camera has counted 10 frames to when the
  first one ends);
- per-camera latency, paced as cameras (each source at its 10 frames/s):
  from the frame leaving the source to its counts, median and 95th
  percentile, and whether the cameras kept up (frames counted / frames sent);
- memory: the process's peak resident set, and per added camera.

Usage: ``python bench/fleet_bench.py [--cameras 1 2 4 8] [--frames 120]
[--paced-s 12]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
MODES = ("separate", "pooled", "batched")


def run_case(mode: str, cameras: int, frames: int, paced_s: float) -> dict:
    """One case in this process: cameras counted unpaced, then paced."""
    from occusense.analytics.warmup import warm_up

    warm_up()
    unpaced = _run(mode, cameras, frames, paced=False)
    paced = _run(mode, cameras, int(paced_s * 10), paced=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "cameras": cameras, **unpaced, **paced, "peak_mb": round(peak_mb)}


def _run(mode: str, cameras: int, frames: int, paced: bool) -> dict:
    from occusense.config import load_config
    from occusense.detect.shared import DetectorPool
    from occusense.runner import SensorRunner
    from occusense.sources import open_source
    from occusense.web.state import SensorState

    pool = None if mode == "separate" else DetectorPool(2, 8 if mode == "batched" else 1)
    done: list[list[float]] = [[] for _ in range(cameras)]
    latencies: list[list[float]] = [[] for _ in range(cameras)]
    with tempfile.TemporaryDirectory() as tmp:
        runners = []
        for i in range(cameras):
            config = load_config(REPO / "examples" / "vtest.yaml")
            config.output.jsonl_path, config.state_dir = "", f"{tmp}/cam{i}"
            source = open_source(SAMPLE, 0.0, paced)
            sent = _time_frames(source)
            runner = SensorRunner(SensorState(config), source, 0.0, [], pool)
            runners.append((runner, sent))

        def camera(i: int) -> None:
            runner, sent = runners[i]

            def counted(frame) -> None:
                now = time.perf_counter()
                done[i].append(now)
                latencies[i].append(now - sent[frame.index])

            runner.run(max_frames=frames, on_frame=counted)

        threads = [threading.Thread(target=camera, args=(i,)) for i in range(cameras)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if pool is not None:
        pool.close()
    if paced:
        steady = [sorted(lat[10:]) for lat in latencies]
        every = sorted(v for lat in steady for v in lat)
        return {"p50_ms": round(1000 * statistics.median(every)),
                "p95_ms": round(1000 * every[int(0.95 * (len(every) - 1))]),
                "kept_up": _kept_up(done, frames)}
    return {"total_fps": round(_steady_rate(done), 1)}


def _time_frames(source) -> dict[int, float]:
    """When each frame leaves the source (wall clock), by frame index."""
    sent: dict[int, float] = {}
    frames = source.frames

    def timed():
        for frame in frames():
            sent[frame.index] = time.perf_counter()
            yield frame

    source.frames = timed
    return sent


def _steady_rate(done: list[list[float]]) -> float:
    start = max(times[min(9, len(times) - 1)] for times in done)
    end = min(times[-1] for times in done)
    counted = sum(1 for times in done for t in times if start < t <= end)
    return counted / (end - start) if end > start else float("nan")


def _kept_up(done: list[list[float]], frames: int) -> str:
    """Frames counted a second per camera over the paced run, against 10 sent."""
    rates = [(len(t) - 1) / (t[-1] - t[0]) for t in done if len(t) > 1]
    return f"{min(rates):.1f}-{max(rates):.1f}/s of 10"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--frames", type=int, default=120, help="unpaced frames per camera")
    parser.add_argument("--paced-s", type=float, default=12.0, help="seconds of paced video")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--one", nargs=2, metavar=("MODE", "CAMERAS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one[0], int(args.one[1]), args.frames, args.paced_s)))
        return
    print("| cameras | way | total frames/s (unpaced) | latency p50 / p95 ms (10 fps each) "
          "| frames/s per camera (paced) | peak memory MB | MB per added camera |")
    print("|---|---|---|---|---|---|---|")
    first: dict[str, int] = {}
    for cameras in args.cameras:
        for mode in args.modes:
            row = _child(mode, cameras, args)
            first.setdefault(mode, row["peak_mb"])
            extra = ((row["peak_mb"] - first[mode]) / (cameras - 1)
                     if cameras > 1 and first[mode] != row["peak_mb"] else None)
            print(f"| {cameras} | {mode} | {row['total_fps']} | {row['p50_ms']} / "
                  f"{row['p95_ms']} | {row['kept_up']} | {row['peak_mb']} | "
                  f"{'' if extra is None else round(extra)} |", flush=True)


def _child(mode: str, cameras: int, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--one", mode, str(cameras), "--frames",
               str(args.frames), "--paced-s", str(args.paced_s)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
