"""Runs an evaluation: tracker output or the whole pipeline against truth."""

from __future__ import annotations

from pathlib import Path

from occusense.config.model import DeviceConfig
from occusense.detect import make_detector
from occusense.detect.masks import MaskPainter
from occusense.evaluation.evaluate import CountingRun, EvalSpec, feed_tracks, report
from occusense.evaluation.mot import load_mot
from occusense.sources import open_source
from occusense.track import PersonTracker


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
        tracked = load_mot(tracks, drop_ignored=False)
        frames = max(gt.last_frame, tracked.last_frame)
        run = CountingRun(spec, frames)
        feed_tracks(run, tracked, spec.fps)
        return report(spec, gt, run, frames) | {"mode": "tracks"}
    assert source is not None
    return _evaluate_source(spec, gt, source, config or DeviceConfig())


def _evaluate_source(spec: EvalSpec, gt, source: str, config: DeviceConfig) -> dict:
    src = open_source(source, start_ts=0.0)
    detector = make_detector(config.detector, config.general.recognition_scheme)
    masks = MaskPainter(config.privacy_masks, src.width, src.height)
    tracker = PersonTracker(frame_rate=src.fps)
    frames = max(gt.last_frame, src.frame_count or 0)
    run = CountingRun(spec, frames)
    last_ts, count = 0.0, 0
    for frame in src.frames():
        found = masks.drop_masked(detector.detect(masks.paint(frame.image)), False)
        people = tracker.update(found, frame.timestamp)
        run.feed(frame.index + 1, frame.timestamp, people.ids, people.boxes,
                 people.ended, people.raw_ids)
        last_ts, count = frame.timestamp, count + 1
    src.close()
    run.close(last_ts + 1.0 / src.fps, tracker.finish())
    return report(spec, gt, run, count) | {"mode": "pipeline", "source": source}
