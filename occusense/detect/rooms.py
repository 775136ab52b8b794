"""The room finder (issue 25): people seated side by side and partly hidden,
as a high corner camera in a meeting or waiting room sees them.

The bundled NanoDet finds a fifth of them (measured on clinic-room: 17%);
the same npm package's CenterNet (``models/centernet-512.onnx``, see
``models/README.md``) finds most, but no single view of the frame finds
them all without false people. So one frame is looked at several ways,
each one CenterNet inference at its fixed 512x512 input:

- the whole frame (letterboxed);
- the whole frame mirrored (people facing the other way score differently);
- two overlapping halves (each person twice as large); a half keeps only
  the people whose box centre lies in its core (the half minus half the
  overlap next to the other half), so a person cut by the seam is taken
  from the half that sees them whole.

Detections of the views are grouped into people: boxes of different views
overlapping by ``GROUP_IOU`` are one person, and a box mostly inside a
stronger one (``CONTAINED``: a person's upper body beside their whole
body) is the same person. A person's score is the chance that at least one
view is right (``1 - prod(1 - score)``): two views agreeing at 0.25 make
0.44, one view alone at 0.25 stays 0.25. People over ``threshold`` count.

A fixed camera then learns how wide a person is at each row of its picture
(:class:`RowWidths`: perspective makes it a straight line in log width
against the row, fitted with scipy's Theil-Sen estimator to the confident
people it has seen). A doubtful person less than half as wide as people on
that row are (a hand, a bag, a face on a poster, a second box on one
person) is not counted: that halved the false people on clinic-room and
lost nobody there.

Measured on ../shared/data/clinic-room (18 frames, 181 people; bench/
RESULTS.md): 90.6% found, 0.39 false people a frame, count error 0.89 a
frame, about 9 frames/s on 2 cores, against NanoDet's 17%. Tuned on that
room: held-out rooms will do worse (see the README's shortcomings).

Written here, not taken from a library: supervision's and ensemble-boxes'
merges (NMS, weighted box fusion) score a box by its own view, and the
measured gain comes from scoring agreement between views; the whole merge
is 40 lines of NumPy.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import theilslopes

from occusense.detect.base import Detections
from occusense.detect.engines import InferenceEngine, InferenceError, OnnxEngine, UsesEngine
from occusense.detect.heads import BackgroundHeads, HeadFinder, with_heads

CENTERNET = Path(__file__).parent / "models" / "centernet-512.onnx"
SIDE = 512  # CenterNet's fixed input
LOW = 0.1  # a view's detections below this are noise
THRESHOLD = 0.4  # a fused person at least this likely counts
GROUP_IOU = 0.4
DUPLICATE_IOU = 0.6
CONTAINED = 0.75
OVERLAP = 0.3  # of a half, shared with the other half
# the camera's picture of a person's width by row (RowWidths)
CONFIDENT = 0.6  # people this likely teach it
SURE = 0.7  # people this likely count whatever their width
NARROW = 0.5  # a doubtful person narrower than this share of the row's width is not one
LEARNED_FROM = 8  # confident people seen before it judges
REMEMBERED = 400  # the newest confident people it fits to
REFIT_AFTER = 20  # new confident people between fits (a fit of 400 takes ~5 ms)
# detections a second a room camera gets (the room finder takes ~110 ms a
# frame on 2 cores): seated people move little between them
ROOM_DETECTIONS_PER_S = 5.0


class RoomFinder(UsesEngine):
    """People in a room: CenterNet over four views of the frame, fused.

    Args:
        threshold: the fused score a person needs (default ``THRESHOLD``).
        engine: where CenterNet runs (default ONNX Runtime on the bundled
            file with ``threads``); a pool's shared engine in a site.
    """

    name = "room finder"

    def __init__(self, threshold: float | None = None, threads: int = 1,
                 engine: InferenceEngine | None = None, model: Path = CENTERNET,
                 heads: HeadFinder | None = None) -> None:
        self.threshold = THRESHOLD if threshold is None else threshold
        self.engine = engine or OnnxEngine(model, threads)
        self.output = next((n for n in self.engine.output_names if "detections" in n),
                           self.engine.output_names[-1])
        self.failures = 0
        self.widths = RowWidths()
        self.heads = heads  # people found by their faces too (detector.heads)
        self.wait_for_heads = False  # True: each frame's own faces (still images)
        self._background: BackgroundHeads | None = None

    def describe(self) -> str:
        where = getattr(self.engine, "where", "ONNX Runtime")
        faces = " + faces (FaceBoxes)" if self.heads is not None else ""
        return f"room finder (CenterNet 512, 4 views fused{faces}) on {where}"

    def detect(self, frame: np.ndarray) -> Detections:
        try:
            views = self.views(frame)
        except InferenceError as exc:
            return self.failed(exc)
        boxes, scores = fuse(views)
        keep = scores >= self.threshold
        boxes, scores = boxes[keep], scores[keep]
        keep = self.widths.plausible(boxes, scores, frame.shape[:2])
        boxes, scores = boxes[keep], scores[keep]
        if self.heads is not None:
            boxes, scores = with_heads(boxes, scores, *self._faces(frame))
        return Detections(boxes.astype(np.float32), scores.astype(np.float32))

    def _faces(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This frame's faces (still images), or the last search's (a camera)."""
        assert self.heads is not None
        if self.wait_for_heads:
            return self.heads.find(frame)
        if self._background is None:
            self._background = BackgroundHeads(self.heads)
        return self._background.latest(frame)

    def close(self) -> None:
        if self._background is not None:
            self._background.close()
        super().close()

    # the views ------------------------------------------------------------------
    def views(self, frame: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(boxes, scores) of each view, in frame pixels."""
        h, w = frame.shape[:2]
        whole = self.infer(frame)
        mirrored_boxes, mirrored_scores = self.infer(frame[:, ::-1])
        mirrored_boxes = mirrored_boxes.copy()
        mirrored_boxes[:, [0, 2]] = w - mirrored_boxes[:, [2, 0]]
        halves = [self.infer_core(frame, part) for part in halves_of(w, h)]
        return [whole, (mirrored_boxes, mirrored_scores),
                (np.concatenate([b for b, _ in halves]), np.concatenate([s for _, s in halves]))]

    def infer(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CenterNet on ``image`` letterboxed into 512x512: person boxes
        (pixels of ``image``) and scores of at least ``LOW``."""
        h, w = image.shape[:2]
        scale = SIDE / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        canvas = np.zeros((1, SIDE, SIDE, 3), np.float32)
        resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        canvas[0, : size[1], : size[0]] = resized[:, :, ::-1]  # RGB, 0..255
        out = self.engine.run([self.output], {self.engine.input_name: canvas})[0][0]
        keep = (np.round(out[:, 5]) == 0) & (out[:, 4] >= LOW)
        return out[keep, :4] / scale, out[keep, 4]

    def infer_core(self, frame: np.ndarray, part: tuple[int, int, int, int]
                   ) -> tuple[np.ndarray, np.ndarray]:
        """One half: its people whose centre lies in its core, in frame pixels."""
        x0, y0, x1, y1 = part
        boxes, scores = self.infer(frame[y0:y1, x0:x1])
        boxes = boxes + np.array([x0, y0, x0, y0], np.float32)
        width = frame.shape[1]
        margin = (x1 - x0) * OVERLAP / 2
        left = x0 + (margin if x0 > 0 else 0)
        right = x1 - (margin if x1 < width else 0)
        centre = (boxes[:, 0] + boxes[:, 2]) / 2
        keep = (centre >= left) & (centre < right)
        return boxes[keep], scores[keep]


class RowWidths:
    """How wide a person is at each row of one fixed camera's picture,
    learned from the confident people it finds: log(width) is close to a
    straight line in the row (perspective), robustly fitted (Theil-Sen, so a
    few odd boxes do not bend it). Rows and widths are shares of the frame,
    so a resized stream keeps what was learned. Thread-safe: a camera's
    detections run on several workers."""

    def __init__(self) -> None:
        self.seen: deque[tuple[float, float]] = deque(maxlen=REMEMBERED)
        self.line: tuple[float, float] | None = None  # (slope, intercept)
        self.fresh = 0  # confident people seen since the last fit
        self.lock = threading.Lock()

    def plausible(self, boxes: np.ndarray, scores: np.ndarray,
                  shape: tuple[int, ...]) -> np.ndarray:
        """Which people to count: the sure ones, and the doubtful ones at
        least ``NARROW`` as wide as the row's people are. Learns from the
        confident ones first."""
        height, width = shape[:2]
        rows = (boxes[:, 1] + boxes[:, 3]) / 2 / height
        widths = np.log(np.clip(boxes[:, 2] - boxes[:, 0], 1, None) / width)
        confident = scores >= CONFIDENT
        with self.lock:
            self.seen.extend(zip(rows[confident].tolist(), widths[confident].tolist(), strict=True))
            self.fresh += int(confident.sum())
            if len(self.seen) >= LEARNED_FROM and (self.line is None or self.fresh >= REFIT_AFTER):
                self.fresh = 0
                seen = np.array(self.seen)
                slope, intercept, *_ = theilslopes(seen[:, 1], seen[:, 0])
                self.line = (float(slope), float(intercept))
            line = self.line
        if line is None:
            return np.ones(len(scores), bool)
        expected = line[1] + line[0] * rows
        return (scores >= SURE) | (widths >= expected + np.log(NARROW))


def halves_of(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Two side-by-side parts of the frame sharing ``OVERLAP`` of their width."""
    part = width / (2 - OVERLAP)
    return [(0, 0, round(part), height), (round(width - part), 0, width, height)]


def _overlaps(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU and "share of the smaller box inside the other" of every pair."""
    x1 = np.maximum(a[:, None, 0], a[None, :, 0])
    y1 = np.maximum(a[:, None, 1], a[None, :, 1])
    x2 = np.minimum(a[:, None, 2], a[None, :, 2])
    y2 = np.minimum(a[:, None, 3], a[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    iou = inter / (area[:, None] + area[None] - inter + 1e-9)
    contained = inter / (np.minimum(area[:, None], area[None]) + 1e-9)
    return iou, contained


def fuse(views: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One box per person from several views' (boxes, scores): the
    strongest box of each group, scored 1 - prod(1 - best score per view)."""
    boxes = np.concatenate([b.reshape(-1, 4) for b, _ in views]).astype(np.float64)
    scores = np.concatenate([s.reshape(-1) for _, s in views]).astype(np.float64)
    view = np.concatenate([np.full(len(s), i) for i, (_, s) in enumerate(views)])
    if len(scores) == 0:
        return np.zeros((0, 4)), np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    boxes, scores, view = boxes[order], scores[order], view[order]
    iou, contained = _overlaps(boxes)
    taken = np.zeros(len(scores), bool)
    out_boxes, out_scores = [], []
    for lead in range(len(scores)):
        if taken[lead]:
            continue
        taken[lead] = True
        best = {view[lead]: scores[lead]}
        for other in np.flatnonzero(~taken):
            if iou[lead, other] >= GROUP_IOU and view[other] not in best:
                best[view[other]] = scores[other]
                taken[other] = True
            elif iou[lead, other] >= DUPLICATE_IOU or contained[lead, other] >= CONTAINED:
                taken[other] = True  # the same person again (or part of them)
        out_boxes.append(boxes[lead])
        out_scores.append(1.0 - float(np.prod([1.0 - s for s in best.values()])))
    return np.array(out_boxes), np.array(out_scores)


def chosen_scene(config) -> tuple[str, str]:
    """``detector.scene`` resolved: ("room" or "walkway", why), by the stated
    rule. A line or a flow needs every frame (a crossing lasts a few frames:
    NanoDet at ~40 frames/s); a camera counting regions only needs a few
    detections a second, and people who sit (the room finder at ~8 a second
    on 2 cores). A model file of one's own, a remote model or a ceiling
    mount keep the configured detector."""
    scene = config.detector.scene.value
    if scene != "auto":
        return scene, f"detector.scene is {scene}"
    if config.detector.model or config.detector.remote_url:
        return "walkway", "a detector model of its own is configured"
    if config.mounting.mount.value == "ceiling":
        return "walkway", "a ceiling camera has its own finder"
    counts = [name for name, on in (("a line", config.line_crossing.enabled),
                                    ("a flow", config.people_flow.enabled)) if on]
    if counts:
        return "walkway", f"the camera counts {' and '.join(counts)} (every frame is needed)"
    return "room", "the camera counts regions only (no line, no flow)"
