"""The head finder (issue 35): the people of a full room seen by their faces.

In a lecture hall or a waiting room, people beyond the second row are a
head and shoulders a few dozen pixels high: the room finder's CenterNet,
which looks for bodies, misses a third to a half of them. FaceBoxes
(``models/faceboxes.onnx``, see ``models/README.md``) finds faces at any
input size; the frame is enlarged ``HEAD_SCALE`` times first, so a face
10-30 px high is one the network was trained on.

A face is the same person as a body when its centre lies in the upper
part of that body's box (``UPPER``); a face with no body is a person of its
own; a body with no face stays a person (seen from behind). So nobody is
counted twice across the two finders.

Faces are slow to find at that scale (about 2-4 s a 1080p frame on 2
cores, against 0.1 s for the bodies): in a running sensor they are found
on a thread of their own, on the newest frame at most every
``SEARCH_EVERY_S`` seconds, and each body detection takes the faces of the
last search (people in a full room sit: a room's occupancy moves slowly,
and a face counted stays counted until the next search, at most a few
seconds). The still image evaluation waits for the faces of each image.

Measured on ../shared/data/classrooms-web (60 photos, 1,030 people, head
points): the room finder alone finds 66.6% (1.23 false people a photo);
with the faces 74.0% (2.2 false), in the 9 full rooms 48% -> 64%; on
clinic-room 90.6% -> 91.2% (0.39 false). See bench/RESULTS.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from occusense.detect.engines import InferenceEngine, OnnxEngine

log = logging.getLogger(__name__)

FACEBOXES = Path(__file__).parent / "models" / "faceboxes.onnx"
HEAD_SCALE = 4.0  # faces 10-30 px high enlarged to what FaceBoxes was trained on
HEAD_THRESHOLD = 0.5  # a face at least this likely is a person
UPPER = 0.6  # a face in this top share of a body's box is that body's
TILE = 384  # frame pixels a tile (1536 enlarged at 4x: bounded memory)
TILE_OVERLAP = 96  # a face up to this high is whole in one of two tiles
SAME_FACE_IOU = 0.3
SEARCH_EVERY_S = 5.0  # a camera's faces are looked for at most this often


class HeadFinder:
    """Faces in a frame (FaceBoxes on the frame enlarged ``scale`` times).

    Args:
        threads: intra-op threads of one inference.
        engine: where FaceBoxes runs (default ONNX Runtime on the bundled file).
    """

    def __init__(self, threads: int = 1, scale: float = HEAD_SCALE,
                 threshold: float = HEAD_THRESHOLD, engine: InferenceEngine | None = None,
                 model: Path = FACEBOXES) -> None:
        self.scale, self.threshold = scale, threshold
        self.engine = engine or OnnxEngine(model, threads)

    def find(self, frame: np.ndarray, stopping: Callable[[], bool] = lambda: False
             ) -> tuple[np.ndarray, np.ndarray]:
        """Face boxes (frame pixels, x1 y1 x2 y2) and scores, tile by tile:
        the enlarged frame whole would take gigabytes (3 GB for 1080p at 4x).
        ``stopping`` is asked between tiles (a stop never waits for a search)."""
        height, width = frame.shape[:2]
        found = [(np.zeros((0, 4)), np.zeros(0))]
        for y in _starts(height):
            for x in _starts(width):
                if stopping():
                    return found[0]
                found.append(self._tile(frame, x, y, min(x + TILE, width),
                                        min(y + TILE, height)))
        boxes = np.concatenate([b for b, _ in found])
        scores = np.concatenate([s for _, s in found])
        if len(scores) == 0:
            return boxes, scores
        chosen = cv2.dnn.NMSBoxes(np.c_[boxes[:, :2], boxes[:, 2:] - boxes[:, :2]].tolist(),
                                  scores.tolist(), self.threshold, SAME_FACE_IOU)
        kept = np.asarray(chosen, int).reshape(-1)
        return boxes[kept], scores[kept]

    def _tile(self, frame: np.ndarray, x0: int, y0: int, x1: int, y1: int
              ) -> tuple[np.ndarray, np.ndarray]:
        """The faces whose centre lies in the tile's core (the tile less half
        the overlap on sides it shares), in frame pixels."""
        tile = frame[y0:y1, x0:x1]
        size = (round((x1 - x0) * self.scale), round((y1 - y0) * self.scale))
        enlarged = cv2.resize(tile, size, interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
        out = dict(zip(self.engine.output_names, self.engine.run(
            self.engine.output_names,
            {self.engine.input_name: np.ascontiguousarray(enlarged)[None]}), strict=True))
        count = int(np.asarray(out["num_boxes"]).reshape(-1)[0])
        boxes = np.asarray(out["boxes"], np.float64).reshape(-1, 4)[:count]
        scores = np.asarray(out["scores"], np.float64).reshape(-1)[:count]
        keep = scores >= self.threshold
        # ymin, xmin, ymax, xmax as shares of the tile
        boxes = boxes[keep][:, [1, 0, 3, 2]] * [x1 - x0, y1 - y0, x1 - x0, y1 - y0]
        boxes += [x0, y0, x0, y0]
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        height, width = frame.shape[:2]
        half = TILE_OVERLAP / 2
        core = ((cx >= x0 + (half if x0 > 0 else 0)) & (cx < x1 - (half if x1 < width else 0))
                & (cy >= y0 + (half if y0 > 0 else 0)) & (cy < y1 - (half if y1 < height else 0)))
        return boxes[core], scores[keep][core]


def _starts(length: int) -> list[int]:
    """Where the tiles along one side start: ``TILE`` long, ``TILE_OVERLAP`` shared."""
    if length <= TILE:
        return [0]
    step = TILE - TILE_OVERLAP
    starts = list(range(0, length - TILE, step))
    return [*starts, length - TILE]


class BackgroundHeads:
    """A :class:`HeadFinder` on a thread of its own: :meth:`latest` hands the
    frame over when the last search has ended and ``every_s`` has passed
    since it began (the search takes about a core for a few seconds: on 2
    cores it must not take one for ever), and answers the faces of the last
    search that ended (none before the first)."""

    def __init__(self, finder: HeadFinder, every_s: float = SEARCH_EVERY_S) -> None:
        self.finder = finder
        self.every_s = every_s
        self._began = -every_s
        self._faces: tuple[np.ndarray, np.ndarray] = (np.zeros((0, 4)), np.zeros(0))
        self._frame: np.ndarray | None = None
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._search, name="faces", daemon=True)
        self._thread.start()

    def latest(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            now = time.monotonic()
            if self._frame is None and now - self._began >= self.every_s:
                self._frame, self._began = frame, now
                self._wake.set()
            return self._faces

    def _search(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            with self._lock:
                frame = self._frame
            if frame is None:
                continue
            try:
                faces = self.finder.find(frame, lambda: self._stop)
            except Exception as exc:  # the bodies are counted on without the faces
                log.warning("faces not found in this frame: %s", exc)
                faces = (np.zeros((0, 4)), np.zeros(0))
            with self._lock:
                self._faces, self._frame = faces, None

    def close(self, timeout_s: float = 2.0) -> None:
        """End the search thread (within a tile's time): ONNX Runtime must not
        be running when the process exits (it aborts)."""
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=timeout_s)


def with_heads(bodies: np.ndarray, body_scores: np.ndarray, faces: np.ndarray,
               face_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bodies and faces as one list of people: a face whose centre lies in the
    upper ``UPPER`` of a body's box is that body's (not counted again); every
    other face is a person of its own.

    Example:
        >>> body = np.array([[0, 0, 100, 300.]])
        >>> faces = np.array([[30, 10, 60, 50.], [200, 10, 230, 50.]])
        >>> boxes, scores = with_heads(body, np.array([.9]), faces, np.array([.8, .7]))
        >>> boxes.tolist(), scores.tolist()
        ([[0.0, 0.0, 100.0, 300.0], [200.0, 10.0, 230.0, 50.0]], [0.9, 0.7])
    """
    if len(faces) == 0:
        return bodies, body_scores
    if len(bodies) == 0:
        return faces, face_scores
    x = (faces[:, 0:1] + faces[:, 2:3]) / 2
    y = (faces[:, 1:2] + faces[:, 3:4]) / 2
    top = bodies[None, :, 1] + (bodies[None, :, 3] - bodies[None, :, 1]) * UPPER
    inside = ((x >= bodies[None, :, 0]) & (x <= bodies[None, :, 2])
              & (y >= bodies[None, :, 1]) & (y <= top))
    alone = ~inside.any(axis=1)
    return (np.concatenate([bodies, faces[alone]]),
            np.concatenate([body_scores, face_scores[alone]]))
