"""``occusense eval``: counts from ground truth next to the sensor's counts.

Truth follows ../shared/data/README.md: every move of a ground-truth
track's bottom-centre from one side of a line segment to the other between
consecutive annotated frames is one crossing, in the direction of SPEC L1;
a region's truth is, frame by frame, the number of ground-truth points in
it. The sensor side is either a tracker-output file (counting logic alone)
or the whole pipeline on a video. supervision's ``LineZone`` runs on the
same raw tracks for comparison.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import supervision as sv
from scipy.optimize import linear_sum_assignment

from occusense.analytics.flow import FlowCounter
from occusense.analytics.geometry import (
    DirectedPolyline,
    PolygonZone,
    anchor_points,
    anchors_and_heights,
)
from occusense.analytics.line import LineCounter
from occusense.analytics.regions import RegionCounter
from occusense.evaluation.mot import MotTracks

Points = list[tuple[float, float]]


@dataclass
class EvalSpec:
    """What to count, in pixels of the sequence's frames."""

    line: Points | None = None
    regions: list[Points] = field(default_factory=list)
    flow: Points | None = None
    flow_names: str = "ABCD"
    fps: float = 10.0
    debounce_s: float = 0.0


def accuracy(counted: int, truth: int) -> float:
    """1 - |counted - truth| / truth; a zero truth is 1.0 only if nothing counted."""
    if truth == 0:
        return 1.0 if counted == 0 else 0.0
    return max(0.0, 1.0 - abs(counted - truth) / truth)


def truth_line(gt: MotTracks, line: Points, fps: float | None = None) -> dict[str, int]:
    """Ground-truth crossings of ``line`` by the settled rule of
    ../shared/data/README.md: a crossing the same person undoes within one
    second (``fps`` frames) is no crossing, both events drop out, applied in
    order along each track. ``fps=None``: the raw rule, every event."""
    counts = {"in": 0, "out": 0}
    for events in _crossing_events(gt, line):
        for _, inward in _settled(events, fps) if fps else events:
            counts["in" if inward else "out"] += 1
    return counts


def _crossing_events(gt: MotTracks, line: Points) -> list[list[tuple[int, bool]]]:
    """Per track: (frame, inward) of each crossing between consecutive
    annotated frames, in order."""
    polyline = DirectedPolyline(line)
    tracks = []
    for frames, boxes in gt.paths().values():
        points = anchor_points(boxes, centre=False)
        if len(points) < 2:
            continue
        steps = polyline.crossings(points[:-1], points[1:])
        tracks.append([(int(frames[i + 1]), c.inward)
                       for i, crossings in enumerate(steps) for c in crossings])
    return tracks


def _settled(events: list[tuple[int, bool]], fps: float) -> list[tuple[int, bool]]:
    """Drop each crossing undone within ``fps`` frames, with its undoing."""
    kept: list[tuple[int, bool]] = []
    for frame, inward in events:
        if kept and kept[-1][1] != inward and frame - kept[-1][0] <= fps:
            kept.pop()
        else:
            kept.append((frame, inward))
    return kept


def truth_regions(gt: MotTracks, regions: list[Points], frames: int) -> np.ndarray:
    """``(frames, regions)`` ground-truth people per region and frame."""
    zones = [PolygonZone(r) for r in regions]
    table = np.zeros((frames, len(zones)), dtype=int)
    for frame in range(1, frames + 1):
        _, boxes = gt.at(frame)
        points = anchor_points(boxes, centre=False)
        for j, zone in enumerate(zones):
            table[frame - 1, j] = int(zone.contains(points).sum())
    return table


class CountingRun:
    """The sensor's counters (and supervision's LineZone) fed frame by frame."""

    def __init__(self, spec: EvalSpec, frames: int, gt: MotTracks | None = None) -> None:
        self.spec = spec
        self.gt = gt
        self.line = LineCounter(DirectedPolyline(spec.line)) if spec.line else None
        self.regions = (
            RegionCounter([PolygonZone(r) for r in spec.regions], True, spec.debounce_s)
            if spec.regions
            else None
        )
        self.flow = FlowCounter(spec.flow, spec.flow_names) if spec.flow else None
        self.flow_total: dict[str, int] = {}
        self.region_table = np.zeros((frames, len(spec.regions)), dtype=int)
        self._last_frame = 0
        self.linezones = _linezones(spec.line) if spec.line else []

    def feed(self, frame, ts, ids, boxes, ended, raw_ids, first_ids=None, first_boxes=None) -> None:
        """One frame's people, as ``Analytics.update`` takes them; ``first_ids``
        and ``first_boxes`` are the frame's first sightings (``TrackedPeople``)."""
        if first_ids is not None and len(first_ids):
            self._first_sightings(frame, ts, first_ids, first_boxes)
        keep, points, heights = self._counted(frame, boxes)
        ids, boxes, raw_ids = ids[keep], boxes[keep], raw_ids[keep]
        if self.line:
            self.line.update(ts, ids, points, heights)
            self.line.end(ts, ended)
        if self.regions and frame <= len(self.region_table):
            state = self.regions.update(ts, ids, points).per_region
            # frames skipped by a frame stride keep the last reported state
            self.region_table[self._last_frame : frame] = state
            self._last_frame = frame
        if self.flow:
            self._add_flows(self.flow.update(ids, points) + self.flow.end(ended))
        if len(raw_ids):
            dets = sv.Detections(xyxy=boxes.astype(float), tracker_id=raw_ids)
            for zone in self.linezones:
                zone.trigger(dets)

    def _counted(
        self, frame: int, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which rows of ``boxes`` count (people where the ground truth says
        "ignore" count for no one), and the anchor points and heights of
        those that do."""
        points, heights = anchors_and_heights(boxes, centre=False)
        keep = np.ones(len(points), dtype=bool)
        if self.gt is not None and len(points):
            keep = ~_inside_any(points, self.gt.ignored_at(frame))
        return keep, points[keep], heights[keep]

    def _first_sightings(self, frame, ts, ids, boxes) -> None:
        keep, points, heights = self._counted(frame, boxes)
        ids = ids[keep]
        if self.line:
            self.line.update(ts, ids, points, heights)
        if self.flow:
            self._add_flows(self.flow.update(ids, points))

    def close(self, ts: float, ended: list[int]) -> None:
        if self.line:
            self.line.end(ts, ended)
        if self.flow:
            self._add_flows(self.flow.end(ended))

    def _add_flows(self, done) -> None:
        for _, a, b in done:
            key = f"{a}-{b}"
            self.flow_total[key] = self.flow_total.get(key, 0) + 1


def _inside_any(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    if len(boxes) == 0:
        return np.zeros(len(points), dtype=bool)
    x, y = points[:, 0:1], points[:, 1:2]
    return (
        (x >= boxes[:, 0])
        & (x <= boxes[:, 2])
        & (y >= boxes[:, 1])
        & (y <= boxes[:, 3] + 0.1 * (boxes[:, 3] - boxes[:, 1]))
    ).any(axis=1)


def _linezones(line: Points) -> list[sv.LineZone]:
    return [
        sv.LineZone(
            start=sv.Point(*a), end=sv.Point(*b), triggering_anchors=[sv.Position.BOTTOM_CENTER]
        )
        for a, b in itertools.pairwise(line)
    ]


def report(spec: EvalSpec, gt: MotTracks, run: CountingRun, frames: int) -> dict:
    """The eval JSON: truth, counted, accuracy per direction, region MAE."""
    out: dict = {"frames": frames}
    if spec.line and run.line:
        truth = truth_line(gt, spec.line, spec.fps)
        raw = truth_line(gt, spec.line)
        ours = {"in": run.line.cumulative.inward, "out": run.line.cumulative.outward}
        lz = {
            "in": sum(z.in_count for z in run.linezones),
            "out": sum(z.out_count for z in run.linezones),
        }
        out["line"] = {
            "points": [list(p) for p in spec.line],
            "truth": truth,
            "counted": ours,
            "accuracy": {d: round(accuracy(ours[d], truth[d]), 4) for d in truth},
            "truth_raw": raw,
            "accuracy_raw": {d: round(accuracy(ours[d], raw[d]), 4) for d in raw},
            "linezone": {
                "counted": lz,
                "accuracy": {d: round(accuracy(lz[d], truth[d]), 4) for d in truth},
            },
        }
    if spec.regions:
        truth_table = truth_regions(gt, spec.regions, frames)
        out["regions"] = [
            {
                "region": j + 1,
                "mean_truth": round(float(truth_table[:, j].mean()), 3),
                "mean_counted": round(float(run.region_table[:, j].mean()), 3),
                "mae": round(float(np.abs(run.region_table[:, j] - truth_table[:, j]).mean()), 3),
            }
            for j in range(len(spec.regions))
        ]
    if spec.flow:
        truth_flow = _truth_flow(spec, gt)
        out["flow"] = {"truth": truth_flow, "counted": run.flow_total}
    return out


def _truth_flow(spec: EvalSpec, gt: MotTracks) -> dict[str, int]:
    assert spec.flow is not None
    counter = FlowCounter(spec.flow, spec.flow_names)
    last_frame = {tid: int(frames[-1]) for tid, (frames, _) in gt.paths().items()}
    totals: dict[str, int] = {}
    for frame in range(1, gt.last_frame + 1):
        ids, boxes = gt.at(frame)
        done = counter.update(ids, anchor_points(boxes, centre=False))
        done += counter.end([t for t in ids.tolist() if last_frame[t] == frame])
        for _, a, b in done:
            totals[f"{a}-{b}"] = totals.get(f"{a}-{b}", 0) + 1
    return totals


def people_found(gt: MotTracks, steps, reach: float = 1 / 3) -> dict[str, float]:
    """How many of the ground truth's people the sensor had, frame by frame.

    Each analysed frame's people are matched one-to-one to the truth's
    (Hungarian assignment) by their points, the bottom-centres that every
    count uses: a pair matches when the points are closer than ``reach``
    times the true person's height (what counts is where a person stands,
    not how tightly their box fits). ``recall``: matched / true people;
    ``false_per_frame``: people the sensor had that match nobody, outside
    the truth's ignore-boxes, per frame; ``precision``: matched / (matched +
    false)."""
    matched = truth = false = frames = 0
    for step in steps:
        _, true_boxes = gt.at(step.frame)
        boxes = np.asarray(step.boxes, np.float64).reshape(-1, 4)
        pairs = _matches(boxes, true_boxes, reach)
        unmatched = np.setdiff1d(np.arange(len(boxes)), [p for p, _ in pairs])
        extra = boxes[unmatched]
        ignored = _inside_any(anchor_points(extra, centre=False), gt.ignored_at(step.frame))
        matched += len(pairs)
        truth += len(true_boxes)
        false += int((~ignored).sum())
        frames += 1
    return {
        "recall": round(matched / truth, 4) if truth else 1.0,
        "precision": round(matched / (matched + false), 4) if matched + false else 1.0,
        "false_per_frame": round(false / frames, 3) if frames else 0.0,
    }


def _matches(ours: np.ndarray, truth: np.ndarray, reach: float) -> list[tuple[int, int]]:
    """(ours, truth) index pairs whose points lie within ``reach`` true heights."""
    if len(ours) == 0 or len(truth) == 0:
        return []
    gap = np.linalg.norm(anchor_points(ours, centre=False)[:, None]
                         - anchor_points(truth, centre=False)[None], axis=2)
    scaled = gap / np.maximum(truth[:, 3] - truth[:, 1], 1.0)[None]
    rows, cols = linear_sum_assignment(scaled)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if scaled[r, c] < reach]
