"""The two recognition schemes of the guide (SPEC P2) as detector settings.

Algorithm 1 is for cluttered offices: a higher score threshold and size and
shape filters, so that printers, lamps and chairs are not taken for people.
Algorithm 2, the guide's suggested default for clean rooms, keeps weaker
detections so partly hidden people still count.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from occusense.config.device import DetectorInput, RecognitionScheme
from occusense.config.device import DetectorSettings as DetectorConfig
from occusense.config.model import DeviceConfig
from occusense.detect.area import used_area
from occusense.detect.base import Detector
from occusense.detect.ceiling import NADIR_RING, CeilingDetector, CeilingRings, PolarUnwrap
from occusense.detect.detector import DEFAULT_MODEL, DetectorSettings, ModelSettings, OnnxDetector
from occusense.detect.engines import InferenceEngine, InferenceError, KServeEngine, OnnxEngine
from occusense.detect.shared import DetectorPool
from occusense.errors import ConfigError

log = logging.getLogger(__name__)

SCHEMES = {
    RecognitionScheme.algorithm_1: DetectorSettings(
        score_threshold=0.5, nms_iou=0.45, min_box_height=0.04, max_aspect=1.2
    ),
    # 0.35: weak detections below the tracker's 0.4 to start a track still
    # keep a track going (ByteTrack's second association), which counts a
    # partly hidden person (measured: bench/RESULTS.md, sixth session)
    RecognitionScheme.algorithm_2: DetectorSettings(
        score_threshold=0.35, nms_iou=0.5, min_box_height=0.0, max_aspect=2.0
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
        input=config.input,
        short_side=config.short_side,
    )


# from above, people look less like COCO's upright people: scores run lower
CEILING_THRESHOLDS = {RecognitionScheme.algorithm_1: 0.35, RecognitionScheme.algorithm_2: 0.25}


def make_ceiling_detector(
    config: DeviceConfig, width: int, height: int, threads: int | None = None,
    pool: DetectorPool | None = None,
) -> CeilingDetector | CeilingRings:
    """The configured detector run on the unwrapped image of a ceiling camera
    (two rings around the nadir unless ``mounting.nadir_ring`` is off)."""
    # the panorama is cut into model-sized tiles here: the frame input
    # setting does not apply (and a fixed-size model takes tiles)
    tiled = config.detector.model_copy(update={"input": DetectorInput.tiles})
    base = make_detector(tiled, config.general.recognition_scheme, threads, pool)
    assert isinstance(base, OnnxDetector)
    if config.detector.score_threshold is None:
        lowered = CEILING_THRESHOLDS[config.general.recognition_scheme]
        base.settings = replace(base.settings, score_threshold=lowered)
    m = config.mounting
    used = used_area(config, width, height)
    unwrap = PolarUnwrap.for_image(
        width, height, m.nadir, m.inner_radius, m.lens.value, m.fov_deg, base.input_size
    )
    main = CeilingDetector(base, unwrap, used)
    if not m.nadir_ring or m.inner_radius <= NADIR_RING[0]:
        return main
    inner = PolarUnwrap.for_image(width, height, m.nadir, NADIR_RING[0], m.lens.value,
                                  m.fov_deg, base.input_size, outer=NADIR_RING[1])
    return CeilingRings([main, CeilingDetector(base, inner, used)])


def make_detector(
    config: DetectorConfig, scheme: RecognitionScheme, threads: int | None = None,
    pool: DetectorPool | None = None,
) -> Detector:
    """Build the configured detector backend; ``threads`` (default
    ``config.threads``) are the cores one inference is spread over. With a
    ``pool`` (many cameras in one service) the network is the pool's, shared
    and batched with the other cameras'."""
    model = Path(config.model) if config.model else DEFAULT_MODEL
    if not config.remote_url and not model.is_file():
        raise ConfigError(f"detector.model: {model} does not exist")
    try:
        if pool is not None:
            engine: InferenceEngine = pool.engine_for(config, model)
        elif config.remote_url:
            engine = KServeEngine(
                config.remote_url, config.remote_binary, config.remote_timeout_s,
                config.remote_ca_file,
            )
        else:
            engine = OnnxEngine(model, threads or config.threads, config.providers)
        reading = ModelSettings(config.family.value, config.person_class, config.input_norm.value)
        detector = OnnxDetector(settings_for(config, scheme), model, engine=engine, model=reading)
    except (ValueError, InferenceError) as exc:
        raise ConfigError(f"detector: {exc}") from exc
    log.info("detector: %s", detector.describe())
    return detector
