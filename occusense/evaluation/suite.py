"""The accuracy suite: every real sequence of ../shared/data (SPEC L, R).

Placements follow a fixed rule, never chosen by hand: for a W x H frame,
five vertical lines at x = W*k/6 drawn top to bottom (In = moving right)
and five horizontal lines at y = H*k/6 drawn left to right (In = moving
up), each across the whole frame; and six regions, the cells of a 3 x 2
grid. Lines without any true crossing are listed but do not count in the
totals. Prints a markdown table (sequence, line, truth, occusense,
supervision LineZone) and the totals per direction.

    occusense eval --suite [--data ../shared/data] [--json]
    .venv/bin/python bench/eval_accuracy.py [--json OUT.json]
"""

from __future__ import annotations

import time
from pathlib import Path

import motmetrics
import numpy as np

from occusense.config.device import Mount, Scene
from occusense.config.model import DeviceConfig
from occusense.evaluation.evaluate import EvalSpec, people_found
from occusense.evaluation.mot import load_mot
from occusense.evaluation.runner import count_log, log_from_source, log_from_tracks

MOTDATA = Path(motmetrics.__file__).parent / "data"
SAMPLE_VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def sequences(data: Path) -> list[tuple]:
    """name, mode, gt, source or tracks, width, height, fps of each sequence."""
    tud = data / "TUD-Campus"
    return [
        ("PETS09-S2L1", "pipeline", data / "PETS09-S2L1/gt/gt.txt", SAMPLE_VIDEO, 768, 576, 10.0),
        ("TUD-Campus", "pipeline", tud / "gt/gt.txt", str(tud / "TUD-Campus.mp4"), 640, 480, 25.0),
        (
            "TUD-Campus (tracker file)",
            "tracks",
            MOTDATA / "TUD-Campus/gt.txt",
            MOTDATA / "TUD-Campus/test.txt",
            640,
            480,
            25.0,
        ),
        (
            "TUD-Stadtmitte (tracker file)",
            "tracks",
            MOTDATA / "TUD-Stadtmitte/gt.txt",
            MOTDATA / "TUD-Stadtmitte/test.txt",
            640,
            480,
            25.0,
        ),
    ]


def placements(w: int, h: int) -> tuple[list[tuple[str, list]], list[list]]:
    lines = [(f"x={w * k // 6}", [(w * k / 6, 0.0), (w * k / 6, float(h))]) for k in range(1, 6)]
    lines += [(f"y={h * k // 6}", [(0.0, h * k / 6), (float(w), h * k / 6)]) for k in range(1, 6)]
    regions = []
    for row in range(2):
        for col in range(3):
            x0, x1 = w * col / 3, w * (col + 1) / 3
            y0, y1 = h * row / 2, h * (row + 1) / 2
            regions.append([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    return lines, regions


def evaluate_sequence(seq, config: DeviceConfig) -> dict:
    name, mode, gt_path, data, w, h, fps = seq
    gt = load_mot(gt_path)
    began = time.perf_counter()
    if mode == "pipeline":
        log = log_from_source(str(data), config)
    else:
        log = log_from_tracks(load_mot(data, drop_ignored=False), fps)
    seconds = time.perf_counter() - began  # detection and tracking, not the counting below
    lines, regions = placements(w, h)
    rows = []
    for label, line in lines:
        result = count_log(EvalSpec(line=line, fps=fps), gt, log)["line"]
        rows.append({"line": label, **result})
    region_result = count_log(EvalSpec(regions=regions, fps=fps), gt, log)["regions"]
    return {
        "sequence": name,
        "mode": mode,
        "seconds": round(seconds, 1),
        "fps": round(len(log.steps) / seconds, 1) if mode == "pipeline" else None,
        "lines": rows,
        "regions": region_result,
        "people": people_found(gt, log.steps),
    }


def totals(rows: list[dict], key: str, truth_key: str = "truth") -> dict[str, float]:
    """Accuracy per direction over ``rows``: 1 - sum of errors / sum of truth
    (``truth_key``: ``truth`` by the settled rule, ``truth_raw`` by every event)."""
    out = {}
    for d in ("in", "out"):
        truth = sum(r[truth_key][d] for r in rows)
        counted = [r[key]["counted"][d] if key == "linezone" else r["counted"][d] for r in rows]
        err = sum(abs(c - r[truth_key][d]) for c, r in zip(counted, rows, strict=True))
        out[d] = 1 - err / truth if truth else float("nan")
    return out


def markdown(suite: dict) -> str:
    results = suite["sequences"]
    out = [
        "| sequence | line | truth in/out | raw rule in/out | occusense in/out "
        "| LineZone in/out |",
        "|---|---|---|---|---|---|",
    ]
    for res in results:
        for r in res["lines"]:
            t, raw = r["truth"], r["truth_raw"]
            c, z = r["counted"], r["linezone"]["counted"]
            out.append(
                f"| {res['sequence']} | {r['line']} | {t['in']}/{t['out']} | "
                f"{raw['in']}/{raw['out']} | {c['in']}/{c['out']} | {z['in']}/{z['out']} |"
            )
    from occusense.evaluation.stills import stills_markdown

    out += ["", *summary(results), "", *stills_markdown(suite.get("stills", [])), "",
            *overhead_markdown(suite["overhead"])]
    return "\n".join(out)


def summary(results: list[dict]) -> list[str]:
    """One row per sequence: lines (settled rule, raw rule beside it), region
    error, people found, false people, frame rate."""
    out = [
        "| sequence | mode | lines in | out | raw rule in | out | LineZone in | out "
        "| region MAE | people found | false people /frame | frames/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    all_rows = []
    for res in results:
        rows = [r for r in res["lines"] if r["truth_raw"]["in"] + r["truth_raw"]["out"] > 0]
        all_rows += rows
        ours, raw = totals(rows, "counted"), totals(rows, "counted", "truth_raw")
        lz = totals(rows, "linezone")
        mae = sum(r["mae"] for r in res["regions"]) / len(res["regions"])
        people, fps = res["people"], res.get("fps")
        out.append(
            f"| {res['sequence']} | {res['mode']} | {ours['in']:.1%} | {ours['out']:.1%} "
            f"| {raw['in']:.1%} | {raw['out']:.1%} | {lz['in']:.1%} | {lz['out']:.1%} "
            f"| {mae:.3f} | {people['recall']:.1%} | {people['false_per_frame']:.2f} "
            f"| {fps if fps is not None else '-'} |"
        )
    ours, raw = totals(all_rows, "counted"), totals(all_rows, "counted", "truth_raw")
    lz = totals(all_rows, "linezone")
    out.append(
        f"| **all** | | {ours['in']:.1%} | {ours['out']:.1%} | {raw['in']:.1%} "
        f"| {raw['out']:.1%} | {lz['in']:.1%} | {lz['out']:.1%} | | | | |"
    )
    return out


OVERHEAD_SIZE, OVERHEAD_HEIGHT, OVERHEAD_SCENES = 1024, 90.0, 20


def evaluate_overhead(data: Path, config: DeviceConfig) -> list[dict]:
    """Ceiling mode on synthetic overhead scenes (``evaluation.overhead``):
    real people cut from PETS09-S2L1, pasted as a ceiling camera sees them."""
    from occusense.detect.presets import make_ceiling_detector, make_detector
    from occusense.evaluation.overhead import SCENARIOS, SceneMaker, measure_scenes, random_scenes

    maker = SceneMaker(SAMPLE_VIDEO, load_mot(data / "PETS09-S2L1/gt/gt.txt"))
    ceiling = config.model_copy(update={"mounting": config.mounting.model_copy(
        update={"mount": Mount.ceiling})})
    detectors = {
        "occusense": make_ceiling_detector(ceiling, OVERHEAD_SIZE, OVERHEAD_SIZE),
        # the off-the-shelf chain: the same detector on the frame as it is, at
        # full resolution (at 416 px it finds nobody: people are 40 px tall)
        "detector on the frame": PlainFinder(make_detector(
            config.detector.model_copy(update={"short_side": OVERHEAD_SIZE}),
            config.general.recognition_scheme)),
    }
    out = []
    for name, most, step, radii in SCENARIOS:
        scenes = list(random_scenes(maker, OVERHEAD_SIZE, OVERHEAD_HEIGHT, OVERHEAD_SCENES, most,
                                    step, jitter=step / 4, radii=radii))  # built once, for both
        for who, detector in detectors.items():
            out.append({"scenario": name, "detector": who, **measure_scenes(detector, scenes)})
    return out


class PlainFinder:
    """An upright-person detector's box centres as ceiling detections."""

    def __init__(self, detector) -> None:
        self.detector = detector

    def find(self, image):
        from occusense.detect.ceiling import CeilingDetections

        found = self.detector.detect(image)
        b = found.boxes
        corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1)
        return CeilingDetections((b[:, :2] + b[:, 2:]) / 2, corners, found.scores)


def overhead_markdown(rows: list[dict]) -> list[str]:
    out = [
        f"| ceiling scenario ({OVERHEAD_SIZE}x{OVERHEAD_SIZE}, synthetic) | detector | people "
        "| people found | extra people /scene | exact count | scenes/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(f"| {r['scenario']} | {r['detector']} | {r['people']} | {r['recall']:.1%} "
                   f"| {r['extra_per_scene']:.2f} | {r['exact_scenes']}/{r['scenes']} "
                   f"| {r['fps']} |")
    return out


def run_suite(data: Path, config: DeviceConfig | None = None) -> dict:
    """Evaluate every sequence and the overhead scenes; raises if the data
    folder is missing."""
    from occusense.evaluation.stills import evaluate_stills, rooms

    config = config or DeviceConfig()
    room = config
    if config.detector.scene is Scene.auto:  # the stills are rooms, the videos walkways
        room = config.model_copy(update={"detector": config.detector.model_copy(
            update={"scene": Scene.room})})
    return {
        "sequences": [evaluate_sequence(seq, config) for seq in sequences(data)],
        "stills": [{"room": name, **evaluate_stills(images, truth, room, rule)}
                   for name, images, truth, rule in rooms(data)],
        "overhead": evaluate_overhead(data, config),
    }
