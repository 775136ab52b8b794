"""The two recognition schemes of the guide (SPEC P2) as detector settings.

Algorithm 1 is for cluttered offices: a higher score threshold and size and
shape filters, so that printers, lamps and chairs are not taken for people.
Algorithm 2, the guide's suggested default for clean rooms, keeps weaker
detections so partly hidden people still count.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from occusense.config.device import DetectorSettings as DetectorConfig
from occusense.config.device import RecognitionScheme
from occusense.config.model import DeviceConfig
from occusense.detect.area import used_area
from occusense.detect.base import Detector
from occusense.detect.ceiling import CeilingDetector, PolarUnwrap
from occusense.detect.nanodet import DEFAULT_MODEL, DetectorSettings, NanoDetDetector
from occusense.errors import ConfigError

SCHEMES = {
    RecognitionScheme.algorithm_1: DetectorSettings(
        score_threshold=0.5, nms_iou=0.45, min_box_height=0.04, max_aspect=1.2, tiled=True
    ),
    RecognitionScheme.algorithm_2: DetectorSettings(
        score_threshold=0.4, nms_iou=0.5, min_box_height=0.0, max_aspect=2.0, tiled=True
    ),
}


def settings_for(config: DetectorConfig, scheme: RecognitionScheme) -> DetectorSettings:
    """The scheme's settings with the config's explicit overrides applied."""
    base = SCHEMES[scheme]
    return replace(
        base,
        score_threshold=(
            base.score_threshold if config.score_threshold is None else config.score_threshold
        ),
        tiled=base.tiled if config.tiling is None else config.tiling,
    )


# from above, people look less like COCO's upright people: scores run lower
CEILING_THRESHOLD_DROP = 0.15


def make_ceiling_detector(config: DeviceConfig, width: int, height: int) -> CeilingDetector:
    """The configured detector run on the unwrapped image of a ceiling camera."""
    base = make_detector(config.detector, config.general.recognition_scheme)
    assert isinstance(base, NanoDetDetector)
    if config.detector.score_threshold is None:
        lowered = max(0.1, base.settings.score_threshold - CEILING_THRESHOLD_DROP)
        base.settings = replace(base.settings, score_threshold=lowered)
    m = config.mounting
    unwrap = PolarUnwrap.for_image(
        width, height, m.nadir, m.inner_radius, m.lens.value, m.fov_deg, base.input_size
    )
    return CeilingDetector(base, unwrap, used_area(config, width, height))


def make_detector(config: DetectorConfig, scheme: RecognitionScheme) -> Detector:
    """Build the configured detector backend."""
    if config.backend != "nanodet":
        raise ConfigError(f"detector.backend: unknown backend {config.backend!r}")
    model = Path(config.model_path) if config.model_path else DEFAULT_MODEL
    if not model.is_file():
        raise ConfigError(f"detector.model_path: {model} does not exist")
    return NanoDetDetector(settings_for(config, scheme), model, config.threads)
