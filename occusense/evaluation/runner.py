"""Runs an evaluation: tracker output or the whole pipeline against truth.

The expensive part — detection and tracking — runs once per sequence into a
:class:`TrackLog`; every line, region and flow area is then counted from
that log, so many placements cost one pipeline run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from occusense.config.device import Scene
from occusense.config.model import DeviceConfig
from occusense.evaluation.evaluate import CountingRun, EvalSpec, report
from occusense.evaluation.mot import MotTracks, load_mot
from occusense.pipeline import Pipeline, run_source
from occusense.sources import open_source
from occusense.track.identity import IdentityStitcher


@dataclass
class TrackStep:
    frame: int
    ts: float
    ids: np.ndarray
    boxes: np.ndarray
    ended: list[int]
    raw_ids: np.ndarray
    first_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    first_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))


@dataclass
class TrackLog:
    """Stitched tracks of a whole sequence, frame by frame."""

    steps: list[TrackStep] = field(default_factory=list)
    final_ts: float = 0.0
    final_ended: list[int] = field(default_factory=list)
    mode: str = "tracks"

    @property
    def frames(self) -> int:
        return self.steps[-1].frame if self.steps else 0


def log_from_tracks(tracks: MotTracks, fps: float) -> TrackLog:
    """Counting logic alone: a tracker's output, stitched as the sensor does."""
    stitcher = IdentityStitcher()
    log = TrackLog(mode="tracks")
    for frame in range(1, tracks.last_frame + 1):
        raw, boxes = tracks.at(frame)
        ts = frame / fps
        ids, ended = stitcher.update(raw, boxes, ts)
        log.steps.append(TrackStep(frame, ts, ids, boxes, ended, raw))
    log.final_ts, log.final_ended = (tracks.last_frame + 1) / fps, stitcher.finish()
    return log


def log_from_source(source: str, config: DeviceConfig) -> TrackLog:
    """The sensor's own pipeline and frame loop (``pipeline.run_source``) on
    a video or folder, with the tracked people of every analysed frame kept.
    ``detector.scene: auto`` means the walkway here: an evaluation counts
    lines over the whole sequence, which the given config may not name."""
    if config.detector.scene is Scene.auto:
        config = config.model_copy(update={"detector": config.detector.model_copy(
            update={"scene": Scene.walkway})})
    src = open_source(source, start_ts=0.0)
    pipeline = Pipeline(config, src.width, src.height, src.fps, 0.0, [])
    log = TrackLog(mode="pipeline")

    def keep(frame, result) -> None:
        if result is None:  # a frame skipped by detector.frame_stride
            return
        people = pipeline.last_people
        log.steps.append(TrackStep(frame.index + 1, frame.timestamp, people.ids, people.boxes,
                                   people.ended, people.raw_ids, people.first_ids,
                                   people.first_boxes))

    try:
        run_source(pipeline, src, on_frame=keep)
    finally:
        src.close()
    log.final_ts = (log.steps[-1].ts if log.steps else 0.0) + 1.0 / src.fps
    log.final_ended = pipeline.last_ended
    return log


def count_log(spec: EvalSpec, gt: MotTracks, log: TrackLog) -> dict:
    frames = max(gt.last_frame, log.frames)
    run = CountingRun(spec, frames, gt)
    for s in log.steps:
        run.feed(s.frame, s.ts, s.ids, s.boxes, s.ended, s.raw_ids, s.first_ids, s.first_boxes)
    run.close(log.final_ts, log.final_ended)
    return report(spec, gt, run, frames) | {"mode": log.mode}


def evaluate(
    spec: EvalSpec,
    gt_path: Path,
    tracks: Path | None = None,
    source: str | None = None,
    config: DeviceConfig | None = None,
) -> dict:
    """The eval JSON for ``spec``: from ``tracks`` (MOT) or by running ``source``."""
    gt = load_mot(gt_path)
    if tracks is not None:
        log = log_from_tracks(load_mot(tracks, drop_ignored=False), spec.fps)
    else:
        assert source is not None
        log = log_from_source(source, config or DeviceConfig())
    return count_log(spec, gt, log)
