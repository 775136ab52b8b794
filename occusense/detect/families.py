"""Model families: how the outputs of an ONNX detector become person boxes.

A family knows one export layout: what its input expects (colour order and
scale) and how its outputs decode. Everything around it (input sizes, tiles,
NMS, shape filters, remote inference) is the detector's (``detect.detector``),
so a user with better weights names the file, and the family if the layout
cannot be recognised from the output shapes (``detector.family: auto``).

========  =====================================================  ======
family    outputs                                                NMS
========  =====================================================  ======
nanodet   per stride 8/16/32: class scores (cells x C) and box   yes
          distributions (cells x 4*11) (the bundled model); or
          NanoDet-Plus's one output (cells x (C + 4*8)), strides
          8/16/32/64
yolox     one (1, cells, 5 + C): raw grid offsets, log sizes,    yes
          objectness, classes (the official export)
yolo      v8/v11 style (1, 4 + C, N): centre, size, classes;     yes
          v5 style (1, N, 5 + C) with objectness; end-to-end
          exports (1, N, 6): x1 y1 x2 y2 score class (v10/v11)   no
detr      RT-DETR / D-FINE / RF-DETR: boxes (1, Q, 4) and class   no
          scores or logits (1, Q, C); or labels, boxes, scores
          (with an ``orig_target_sizes`` input); or one
          (1, Q, 4 + C) (Ultralytics RT-DETR)
========  =====================================================  ======

Boxes given relative to the input (all coordinates under 1.5) are scaled to
it. Scores outside 0..1 are logits and go through a sigmoid.

Written here rather than taken from a library: the decoders are a few lines
of NumPy each; the packages that have them (ultralytics, yolox, rfdetr)
bring PyTorch (gigabytes) to a sensor that needs ONNX Runtime only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from occusense.detect.base import Detections

Shapes = list[tuple[int, ...]]


@dataclass(frozen=True)
class Decoding:
    """What decoding needs besides the raw outputs."""

    width: int  # the input tensor's size in pixels
    height: int
    threshold: float
    person_class: int


class ModelFamily(Protocol):
    """One export layout."""

    name: str
    needs_nms: bool
    bgr_0_255: bool  # the input is BGR 0..255 (YOLOX); else RGB scaled by ``input_norm``

    def decode(self, raw: list[np.ndarray], how: Decoding) -> Detections:
        """Outputs of one input -> person boxes in input pixels (before NMS)."""
        ...


def sigmoid_if_logits(values: np.ndarray) -> np.ndarray:
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
        return 1.0 / (1.0 + np.exp(-values))
    return values


@lru_cache(maxsize=64)
def _cell_points(width: int, height: int, stride: int) -> np.ndarray:
    """``(cells, 2)`` (column, row) of a stride's cells, row-major; kept per
    input size (every frame of a camera has the same), read-only."""
    rows, cols = np.mgrid[0 : height // stride, 0 : width // stride]
    points = np.stack([cols.ravel(), rows.ravel()], axis=1).astype(np.float32)
    points.setflags(write=False)
    return points


@lru_cache(maxsize=32)
def _grid(width: int, height: int, strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every cell of one output over ``strides`` (finest first): its (column,
    row) and its stride, read-only."""
    cells = np.concatenate([_cell_points(width, height, s) for s in strides])
    per_cell = np.concatenate([np.full((width // s) * (height // s), s, np.float32)
                               for s in strides])
    cells.setflags(write=False)
    per_cell.setflags(write=False)
    return cells, per_cell


def _cells(width: int, height: int, strides: tuple[int, ...]) -> int:
    return sum((width // s) * (height // s) for s in strides)


def _person(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> Detections:
    keep = scores >= threshold
    return Detections(boxes[keep].astype(np.float32), scores[keep].astype(np.float32))


def _from_centres(cxcywh: np.ndarray) -> np.ndarray:
    half = cxcywh[:, 2:4] / 2
    return np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)


def _scaled(boxes: np.ndarray, how: Decoding) -> np.ndarray:
    """Boxes relative to the input (every coordinate under 1.5) in pixels."""
    if boxes.size and np.abs(boxes).max() <= 1.5:
        return boxes * np.array([how.width, how.height] * 2, np.float32)
    return boxes


def _class_column(scores: np.ndarray, person: int) -> np.ndarray:
    if person >= scores.shape[-1]:
        raise ValueError(
            f"detector.person_class {person} is not among the model's {scores.shape[-1]} classes"
        )
    return scores[..., person]


# ---------------------------------------------------------------- NanoDet
class NanoDet:
    """NanoDet's GFL head: a distribution over bins for each box side."""

    name = "nanodet"
    needs_nms = True
    bgr_0_255 = False
    STRIDES = (8, 16, 32)
    BINS = 11
    PLUS_STRIDES = (8, 16, 32, 64)
    PLUS_BINS = 8

    def __init__(self, output_shapes: Shapes) -> None:
        self.plus = len(output_shapes) == 1
        if not self.plus:
            self._order = self._pair_outputs(output_shapes)

    def _pair_outputs(self, shapes: Shapes) -> list[tuple[int, int]]:
        """(scores, boxes) output indexes per stride, finest first: the two of
        one stride have the same cell count; box outputs have 4*11 columns."""
        by_cells: dict[int, dict[str, int]] = {}
        for index, shape in enumerate(shapes):
            kind = "boxes" if shape[-1] == 4 * self.BINS else "scores"
            by_cells.setdefault(int(shape[1]), {})[kind] = index
        try:
            return [(by_cells[n]["scores"], by_cells[n]["boxes"])
                    for n in sorted(by_cells, reverse=True)]
        except KeyError:
            raise ValueError(f"not NanoDet's paired outputs: {shapes}") from None

    def decode(self, raw: list[np.ndarray], how: Decoding) -> Detections:
        if self.plus:
            return self._decode_plus(raw[0][0], how)
        boxes, scores = [], []
        for stride, (si, bi) in zip(self.STRIDES, self._order, strict=True):
            cls = _class_column(raw[si][0], how.person_class)
            keep = np.flatnonzero(cls >= how.threshold)
            if keep.size:
                # the GFL head's points are cell centres (NanoDet-Plus uses corners)
                points = (_cell_points(how.width, how.height, stride)[keep] + 0.5) * stride
                boxes.append(_gfl_boxes(raw[bi][0, keep], points, stride, self.BINS))
                scores.append(cls[keep])
        if not boxes:
            return Detections.empty()
        return Detections(np.concatenate(boxes).astype(np.float32),
                          np.concatenate(scores).astype(np.float32))

    def _decode_plus(self, out: np.ndarray, how: Decoding) -> Detections:
        """NanoDet-Plus: one (cells, C + 4*8) output over strides 8-64, cell
        centres at (col, row) * stride."""
        classes = out.shape[1] - 4 * self.PLUS_BINS
        cls = _class_column(sigmoid_if_logits(out[:, :classes]), how.person_class)
        keep = np.flatnonzero(cls >= how.threshold)
        if keep.size == 0:
            return Detections.empty()
        cells, strides = _grid(how.width, how.height, self.PLUS_STRIDES)
        points = cells[keep] * strides[keep, None]
        boxes = _gfl_boxes(out[keep, classes:], points, strides[keep, None], self.PLUS_BINS)
        return Detections(boxes.astype(np.float32), cls[keep].astype(np.float32))


def _gfl_boxes(dist: np.ndarray, points: np.ndarray, stride, bins: int) -> np.ndarray:
    """Expected distance per side (softmax over ``bins``) times the stride."""
    dist = dist.reshape(-1, 4, bins)
    dist = np.exp(dist - dist.max(axis=2, keepdims=True))
    dist /= dist.sum(axis=2, keepdims=True)
    sides = (dist * np.arange(bins, dtype=np.float32)).sum(axis=2) * stride
    return np.concatenate([points - sides[:, :2], points + sides[:, 2:]], axis=1)


# ------------------------------------------------------------------ YOLOX
class Yolox:
    """YOLOX's official export: per cell (x, y) offsets from the cell, log
    width and height in strides, objectness, class scores."""

    name = "yolox"
    needs_nms = True
    bgr_0_255 = True
    STRIDES = (8, 16, 32)

    def decode(self, raw: list[np.ndarray], how: Decoding) -> Detections:
        out = raw[0][0]
        score = out[:, 4] * _class_column(out[:, 5:], how.person_class)
        keep = np.flatnonzero(score >= how.threshold)
        if keep.size == 0:
            return Detections.empty()
        cells, per_cell = _grid(how.width, how.height, self.STRIDES)
        strides = per_cell[keep, None]
        centre = (out[keep, :2] + cells[keep]) * strides
        size = np.exp(np.minimum(out[keep, 2:4], 20.0)) * strides
        return Detections(_from_centres(np.concatenate([centre, size], axis=1)).astype(np.float32),
                          score[keep].astype(np.float32))


# ------------------------------------------------------------------- YOLO
class Yolo:
    """The common YOLO exports: v8/v11 (channels first, no objectness), v5
    (objectness), end-to-end (already suppressed boxes with score and class)."""

    name = "yolo"
    bgr_0_255 = False

    def __init__(self, output_shapes: Shapes, width: int, height: int) -> None:
        _, a, b = output_shapes[0]
        if b == 6 and a < 1000:
            self.layout = "end2end"
        elif a < b:
            self.layout = "v8"
        elif a == 3 * _cells(width, height, (8, 16, 32)):
            self.layout = "v5"
        else:
            self.layout = "v8-rows"  # v8 transposed to (1, N, 4 + C)
        self.needs_nms = self.layout != "end2end"

    def decode(self, raw: list[np.ndarray], how: Decoding) -> Detections:
        out = raw[0][0]
        if self.layout == "end2end":
            score = np.where(out[:, 5].round() == how.person_class, out[:, 4], 0.0)
            return _person(_scaled(out[:, :4], how), score, how.threshold)
        if self.layout == "v8":
            out = out.T
        if self.layout == "v5":
            score = out[:, 4] * _class_column(out[:, 5:], how.person_class)
        else:
            score = _class_column(out[:, 4:], how.person_class)
        keep = score >= how.threshold
        boxes = _from_centres(_scaled(out[keep, :4], how))
        return Detections(boxes.astype(np.float32), score[keep].astype(np.float32))


# ------------------------------------------------------------------- DETR
class Detr:
    """Set-prediction detectors (RT-DETR, D-FINE, RF-DETR): one box per
    query, no NMS.

    Args:
        names: the output names: with three outputs, the ones named like
            ``labels`` and ``scores`` (RT-DETR's and D-FINE's exports) tell
            them apart; else an integer output is the labels.
    """

    name = "detr"
    needs_nms = False
    bgr_0_255 = False

    def __init__(self, names: list[str]) -> None:
        self.names = [n.lower() for n in names]

    def decode(self, raw: list[np.ndarray], how: Decoding) -> Detections:
        if len(raw) == 1:  # (1, Q, 4 + C): centres and sizes, then class scores
            out = raw[0][0]
            boxes = _from_centres(_scaled(out[:, :4], how))
            score = _class_column(sigmoid_if_logits(out[:, 4:]), how.person_class)
            return _person(boxes, score, how.threshold)
        arrays = [r[0] for r in raw]
        box_at = next(i for i, a in enumerate(arrays) if a.ndim == 2 and a.shape[1] == 4)
        boxes = arrays[box_at]
        if len(arrays) == 3:  # labels, boxes x1 y1 x2 y2 in input pixels, scores
            labels, scores = self._labels_and_scores(arrays, box_at)
            score = np.where(np.round(labels) == how.person_class, scores, 0.0)
            return _person(_scaled(boxes, how), score, how.threshold)
        logits = arrays[1 - box_at]  # boxes as centres and sizes, per-class scores
        score = _class_column(sigmoid_if_logits(logits), how.person_class)
        return _person(_from_centres(_scaled(boxes, how)), score, how.threshold)

    def _labels_and_scores(self, arrays: list[np.ndarray], box_at: int):
        rest = [i for i in range(3) if i != box_at]
        named = [i for i in rest if "label" in self.names[i]]
        if not named:
            named = [i for i in rest if np.issubdtype(arrays[i].dtype, np.integer)]
        if not named:
            raise ValueError("a DETR with three outputs needs one named 'labels' or of integers")
        other = next(i for i in rest if i != named[0])
        return arrays[named[0]], arrays[other]


FAMILIES = ("nanodet", "yolox", "yolo", "detr")


def recognise(shapes: Shapes, width: int, height: int) -> str:
    """The family whose layout ``shapes`` (outputs of a ``width x height``
    probe) match, or a ValueError saying to set ``detector.family``."""
    if len(shapes) >= 6 and len(shapes) % 2 == 0:
        return "nanodet"
    if len(shapes) in (2, 3) and any(len(s) == 3 and s[-1] == 4 for s in shapes):
        return "detr"
    if len(shapes) == 1 and len(shapes[0]) == 3:
        _, a, b = shapes[0]
        if a == _cells(width, height, NanoDet.PLUS_STRIDES) and b > 4 * NanoDet.PLUS_BINS:
            return "nanodet"
        if a == _cells(width, height, Yolox.STRIDES):
            return "yolox"
        if a < b or a == 3 * _cells(width, height, (8, 16, 32)) or b == 6:
            return "yolo"
        if a <= 1000:
            return "detr"
    raise ValueError(
        f"cannot tell the model family from its outputs {shapes}; "
        f"set detector.family to one of {', '.join(FAMILIES)}"
    )


def make_family(
    name: str, shapes: Shapes, width: int, height: int, names: list[str]
) -> ModelFamily:
    """The decoder of family ``name`` for a model with outputs ``shapes``
    (named ``names``) for a ``width x height`` input."""
    if name == "nanodet":
        return NanoDet(shapes)
    if name == "yolox":
        return Yolox()
    if name == "yolo":
        return Yolo(shapes, width, height)
    if name == "detr":
        return Detr(names)
    raise ValueError(f"unknown model family {name!r}; one of {', '.join(FAMILIES)}")
