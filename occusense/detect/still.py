"""``occusense detect``: people in still images, in image coordinates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2

from occusense.analytics.geometry import anchor_points
from occusense.config.device import Mount
from occusense.config.model import DeviceConfig
from occusense.detect.base import Detector
from occusense.detect.ceiling import CeilingDetector, CeilingRings
from occusense.detect.masks import MaskPainter
from occusense.detect.presets import make_ceiling_detector
from occusense.errors import OccusenseError
from occusense.sources import IMAGE_SUFFIXES


def image_paths(target: Path) -> list[Path]:
    if target.is_dir():
        paths = sorted(p for p in target.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise OccusenseError(f"folder {target} holds no images")
        return paths
    if target.is_file():
        return [target]
    raise OccusenseError(f"{target} is neither an image nor a folder")


def detect_images(target: Path, config: DeviceConfig) -> Iterator[dict]:
    """One ``{"image", "people", "detections": [{"x", "y", "score"}]}`` per image."""
    detectors: dict[tuple[int, int], Detector] = {}
    for path in image_paths(target):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OccusenseError(f"{path} is not a readable image")
        h, w = image.shape[:2]
        if (w, h) not in detectors:
            # the finder the sensor would run (detector.scene: a room, a walkway)
            from occusense.pipeline import detector_for

            detectors[(w, h)] = (
                make_ceiling_detector(config, w, h)
                if config.mounting.mount is Mount.ceiling
                else detector_for(config, w, h, threads=config.detector.threads)
            )
        detector = detectors[(w, h)]
        masks = MaskPainter(config.privacy_masks, w, h)
        painted = masks.paint(image)
        if isinstance(detector, CeilingDetector | CeilingRings):
            found = detector.find(painted)
            points, scores = found.points, found.scores
        else:
            boxes = detector.detect(painted)
            points, scores = anchor_points(boxes.boxes, config.uses_box_centre), boxes.scores
        visible = ~masks.masked(points)
        points, scores = points[visible], scores[visible]
        yield {
            "image": path.name,
            "people": len(scores),
            "detections": [
                {"x": round(float(x), 1), "y": round(float(y), 1), "score": round(float(s), 3)}
                for (x, y), s in zip(points, scores, strict=True)
            ],
        }
