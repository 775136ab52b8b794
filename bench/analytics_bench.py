"""Counting analytics throughput: a line plus 16 regions, track-point
updates per second (one person in one frame = one update), next to
supervision's LineZone and 16 PolygonZones fed the same tracks.

    .venv/bin/python bench/analytics_bench.py [--people 20 100 400] [--frames 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import supervision as sv

from occusense.analytics.engine import Analytics
from occusense.config import parse_config
from occusense.track import TrackedPeople

W, H = 768, 576


def regions16() -> list[list[list[float]]]:
    cells = []
    for row in range(4):
        for col in range(4):
            x0, y0 = col / 4 + 0.01, row / 4 + 0.01
            cells.append([[x0, y0], [x0 + 0.23, y0], [x0 + 0.23, y0 + 0.23], [x0, y0 + 0.23]])
    return cells


def tracks(people: int, frames: int, seed: int = 0) -> list[TrackedPeople]:
    """People walking at random across the frame; each leaves and is replaced."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform([0, 0], [W, H], (people, 2))
    vel = rng.normal(0, 6, (people, 2))
    ids = np.arange(1, people + 1)
    next_id = people + 1
    out = []
    for _ in range(frames):
        pos += vel + rng.normal(0, 1.5, (people, 2))
        gone = (pos[:, 0] < 0) | (pos[:, 0] > W) | (pos[:, 1] < 0) | (pos[:, 1] > H)
        ended = ids[gone].tolist()
        for i in np.flatnonzero(gone):
            pos[i] = rng.uniform([0, 0], [W, H])
            ids[i] = next_id
            next_id += 1
        low, high = np.subtract(pos, (10, 60)), np.add(pos, (10, 0))
        boxes = np.concatenate([low, high], axis=1).astype(np.float32)
        out.append(TrackedPeople(ids.copy(), boxes, ended))
    return out


def ours(config, data: list[TrackedPeople]) -> float:
    """Seconds for occusense's analytics to take every frame of ``data``."""
    analytics = Analytics(config, W, H)
    began = time.perf_counter()
    for i, people in enumerate(data):
        analytics.update(i / 10, people)
    return time.perf_counter() - began


def theirs(data: list[TrackedPeople]) -> float:
    """Seconds for supervision's LineZone and 16 PolygonZones on ``data``."""
    line = sv.LineZone(
        start=sv.Point(W / 2, 0),
        end=sv.Point(W / 2, H),
        triggering_anchors=[sv.Position.BOTTOM_CENTER],
    )
    zones = [
        sv.PolygonZone(
            np.array([[x * W, y * H] for x, y in p], dtype=int),
            triggering_anchors=[sv.Position.BOTTOM_CENTER],
        )
        for p in regions16()
    ]
    began = time.perf_counter()
    for people in data:
        det = sv.Detections(xyxy=people.boxes.astype(float), tracker_id=people.ids)
        line.trigger(det)
        for zone in zones:
            zone.trigger(det)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[20, 100, 400])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs each")
    args = parser.parse_args()
    config = parse_config(
        {
            "region_counting": {
                "customize_area": True,
                "regions": [{"points": p} for p in regions16()],
            },
            "line_crossing": {"enabled": True, "line": {"points": [[0.5, 0.0], [0.5, 1.0]]}},
        }
    )
    ours(config, tracks(20, 50))  # loads (or first compiles) the kernels
    print(f"a line + 16 regions, {args.frames} frames, best of {args.rounds} runs")
    print("people a frame   occusense updates/s, us/frame   supervision (LineZone + 16 zones)")
    for people in args.people:
        data = tracks(people, args.frames)
        updates = people * args.frames
        mine = min(ours(config, data) for _ in range(args.rounds))
        other = min(theirs(data) for _ in range(args.rounds))
        print(
            f"{people:>14}   {updates / mine:>11,.0f}  {mine / args.frames * 1e6:7.1f}"
            f"                {updates / other:>11,.0f}  {other / args.frames * 1e6:7.1f}"
        )


if __name__ == "__main__":
    main()
