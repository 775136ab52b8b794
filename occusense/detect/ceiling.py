"""Person detection for ceiling cameras looking straight down.

COCO detectors expect upright people; from above, people lie along rays
from the nadir (the point straight below the camera), their heads pointing
outwards. :class:`PolarUnwrap` unrolls the image around the nadir into a
panorama whose columns are angles and whose rows are radii, outer radius at
the top: in it people stand upright. :class:`CeilingDetector` runs the
ordinary detector on overlapping 416-px tiles of that panorama (the
panorama is extended past 360 degrees so nobody is cut by the seam),
merges duplicates, and maps every detection back to the image: a point
(the person's centre) and an oriented box (four corners).

Tiles whose panorama columns hold no used pixel — nothing of a region, the
line, the U-turn or flow area, or only privacy-masked pixels — are skipped.

Lens types: ``fisheye`` (equidistant: image radius grows linearly with the
view angle) samples radii uniformly; ``rectilinear`` samples them uniformly
in view angle (radius = f * tan(angle)), so that people far from the nadir,
stretched by a wide-angle lens, keep a similar size in the panorama.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from occusense.detect.base import Detections
from occusense.detect.detector import OnnxDetector, nms, tile_origins


@dataclass(frozen=True)
class PolarUnwrap:
    """Image <-> panorama mapping around a nadir.

    Args:
        centre: nadir in image pixels.
        r_min, r_max: radii (pixels) covered by the panorama.
        height: panorama rows (r_max at row 0, r_min at the last row).
        width: panorama columns for 360 degrees (column 0 = angle 0 = +x).
        lens: ``fisheye`` or ``rectilinear``.
        focal: rectilinear focal length in pixels.
    """

    centre: tuple[float, float]
    r_min: float
    r_max: float
    height: int
    width: int
    lens: str = "fisheye"
    focal: float = 1.0

    @classmethod
    def for_image(
        cls,
        width: int,
        height: int,
        nadir: tuple[float, float] | None = None,
        inner: float = 0.15,
        lens: str = "fisheye",
        fov_deg: float = 120.0,
        rows: int = 416,
        outer: float = 1.0,
    ) -> PolarUnwrap:
        """A panorama of ``rows`` rows around ``nadir`` (relative, default the
        centre) from ``inner`` to ``outer`` x the outer radius: the fisheye's
        image circle (inscribed in the frame), or the whole frame for a
        rectilinear lens."""
        cx, cy = (nadir[0] * width, nadir[1] * height) if nadir else (width / 2, height / 2)
        if lens == "rectilinear":  # the picture fills the frame: reach its far corner
            r_max = max(math.hypot(x - cx, y - cy) for x in (0, width) for y in (0, height))
        else:  # a fisheye's image circle fits inside the frame
            r_max = max(min(cx, cy, width - cx, height - cy), min(width, height) / 4)
        focal = r_max / math.tan(math.radians(fov_deg) / 2)
        r_min, r_max = inner * r_max, outer * r_max
        r_mid = (r_min + r_max) / 2
        scale = rows / (r_max - r_min)
        columns = max(rows, round(2 * math.pi * r_mid * scale))
        return cls((cx, cy), r_min, r_max, rows, columns, lens, focal)

    # radius <-> row -----------------------------------------------------
    def _row_to_radius(self, v: np.ndarray) -> np.ndarray:
        t = 1.0 - v / (self.height - 1)  # 1 at the top row, 0 at the bottom
        if self.lens == "rectilinear":
            a0, a1 = math.atan(self.r_min / self.focal), math.atan(self.r_max / self.focal)
            return self.focal * np.tan(a1 - (a1 - a0) * (1.0 - t))
        return self.r_max - (self.r_max - self.r_min) * (1.0 - t)

    def _radius_to_row(self, r: np.ndarray) -> np.ndarray:
        if self.lens == "rectilinear":
            a0, a1 = math.atan(self.r_min / self.focal), math.atan(self.r_max / self.focal)
            frac = (a1 - np.arctan(r / self.focal)) / (a1 - a0)
        else:
            frac = (self.r_max - r) / (self.r_max - self.r_min)
        return frac * (self.height - 1)

    # points ---------------------------------------------------------------
    def to_image(self, uv: np.ndarray) -> np.ndarray:
        """Panorama points ``(N, 2)`` -> image points (columns wrap at 360°)."""
        theta = uv[:, 0] / self.width * 2 * math.pi
        r = self._row_to_radius(uv[:, 1])
        cx, cy = self.centre
        return np.stack([cx + r * np.cos(theta), cy + r * np.sin(theta)], axis=1)

    def to_panorama(self, xy: np.ndarray) -> np.ndarray:
        """Image points -> panorama points, columns in ``[0, width)``."""
        dx, dy = xy[:, 0] - self.centre[0], xy[:, 1] - self.centre[1]
        theta = np.mod(np.arctan2(dy, dx), 2 * math.pi)
        r = np.hypot(dx, dy)
        return np.stack([theta / (2 * math.pi) * self.width, self._radius_to_row(r)], axis=1)

    def maps(self, extra_columns: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``cv2.remap`` maps for a panorama ``width + extra_columns`` wide."""
        u, v = np.meshgrid(
            np.arange(self.width + extra_columns, dtype=np.float64),
            np.arange(self.height, dtype=np.float64),
        )
        xy = self.to_image(np.stack([u.ravel(), v.ravel()], axis=1))
        shape = (self.height, self.width + extra_columns)
        return (
            xy[:, 0].reshape(shape).astype(np.float32),
            xy[:, 1].reshape(shape).astype(np.float32),
        )


@dataclass(frozen=True)
class CeilingDetections:
    """People found from above, in image coordinates.

    Attributes:
        points: ``(N, 2)`` each person's centre.
        corners: ``(N, 4, 2)`` oriented boxes (panorama box corners mapped).
        scores: ``(N,)`` confidences.
    """

    points: np.ndarray
    corners: np.ndarray
    scores: np.ndarray


class CeilingDetector:
    """Finds people in top-down frames with a detector trained on upright people.

    Args:
        base: the upright-person detector run on panorama tiles.
        unwrap: the image <-> panorama mapping.
        used: optional ``uint8`` mask of the image (non-zero = counted area,
            not privacy-masked); tiles over none of it are skipped.
    """

    name = "ceiling"

    def __init__(
        self, base: OnnxDetector, unwrap: PolarUnwrap, used: np.ndarray | None = None
    ) -> None:
        self.base = base
        self.unwrap = unwrap
        self.tile = base.input_size
        self.extra = self.tile  # columns repeated past 360 degrees
        self._map_x, self._map_y = unwrap.maps(self.extra)
        self.tiles = tile_origins(unwrap.width + self.extra, unwrap.height, self.tile)
        if used is not None:
            self.tiles = self._used_tiles(used)
        self.tiles_run = 0

    def _used_tiles(self, used: np.ndarray) -> list[tuple[int, int]]:
        """Tiles whose core — the columns nearer its centre than any other
        tile's — holds a used pixel. Someone centred in a core lies wholly in
        that tile, so the other tiles are not needed for them."""
        warped = cv2.remap(used, self._map_x, self._map_y, cv2.INTER_NEAREST, borderValue=0)
        columns = np.asarray(warped.any(axis=0))
        starts = sorted({x for x, _ in self.tiles})
        centres = [x + self.tile / 2 for x in starts]
        bounds = [0.0] + [(a + b) / 2 for a, b in itertools.pairwise(centres)] + [len(columns)]
        needed = {
            x
            for x, lo, hi in zip(starts, bounds, bounds[1:], strict=False)
            if columns[int(lo) : math.ceil(hi)].any()
        }
        return [(x, y) for x, y in self.tiles if x in needed]

    def panorama(self, frame: np.ndarray) -> np.ndarray:
        return cv2.remap(frame, self._map_x, self._map_y, cv2.INTER_LINEAR, borderValue=0)

    def find(self, frame: np.ndarray) -> CeilingDetections:
        """People in ``frame``: centres, oriented boxes and scores."""
        pano = self.panorama(frame)
        width = self.unwrap.width + self.extra
        boxes, scores = [], []
        for x, y in self.tiles:
            tile = pano[y : y + self.tile, x : x + self.tile]
            found = self.base.decode(self.base.infer(self.base.preprocess(tile)), 1.0, 1.0)
            keep = _inside_tile(found.boxes, x, width, self.tile)
            boxes.append(found.boxes[keep] + np.array([x, y, x, y], np.float32))
            scores.append(found.scores[keep])
        self.tiles_run += len(self.tiles)
        if not boxes:
            return _empty()
        merged = nms(Detections(np.concatenate(boxes), np.concatenate(scores)), 0.45)
        folded = _fold(merged, self.unwrap.width)
        return self._to_image(_suppress_nested(folded, self.unwrap.width))

    def _to_image(self, found: Detections) -> CeilingDetections:
        if len(found) == 0:
            return _empty()
        b = found.boxes
        centre = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
        corners_uv = np.stack(
            [b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1
        ).reshape(-1, 2)
        corners = self.unwrap.to_image(corners_uv).reshape(-1, 4, 2)
        return CeilingDetections(self.unwrap.to_image(centre), corners, found.scores)

    def close(self) -> None:
        self.base.close()

    def describe(self) -> str:
        return f"{self.base.describe()}, on the unwrapped ceiling view"

    def detect(self, frame: np.ndarray) -> Detections:
        """Axis-aligned image boxes centred on each person (for the tracker)."""
        return tracker_boxes(self.find(frame))


class CeilingRings:
    """Ceiling detection in two rings around the nadir: the main panorama
    (``inner_radius`` to the edge) and a second one over the radii of
    :data:`NADIR_RING`. Near the nadir the main
    panorama squeezes people into a few rows; the second unwrap gives them
    the full tile height (synthetic scenes, bench/RESULTS.md seventh
    session: people at 0.15-0.4 of the radius found 51% -> 88%, at twice the
    inference cost). People found in both rings are kept once.
    """

    name = "ceiling"

    def __init__(self, rings: list[CeilingDetector]) -> None:
        self.rings = rings
        self.base = rings[0].base
        self.unwrap = rings[0].unwrap

    @property
    def tiles(self) -> list[tuple[int, int]]:
        return [tile for ring in self.rings for tile in ring.tiles]

    @property
    def tiles_run(self) -> int:
        return sum(ring.tiles_run for ring in self.rings)

    def find(self, frame: np.ndarray) -> CeilingDetections:
        found = [ring.find(frame) for ring in self.rings]
        points = np.concatenate([f.points for f in found])
        corners = np.concatenate([f.corners for f in found])
        scores = np.concatenate([f.scores for f in found])
        spans = (corners.max(axis=1) - corners.min(axis=1)).min(axis=1) if len(scores) else []
        kept: list[int] = []
        for i in np.argsort(-scores, kind="stable").tolist():
            near = [np.linalg.norm(points[i] - points[j]) < min(spans[i], spans[j]) / 2
                    for j in kept]
            if not any(near):
                kept.append(i)
        return CeilingDetections(points[kept], corners[kept], scores[kept])

    def detect(self, frame: np.ndarray) -> Detections:
        return tracker_boxes(self.find(frame))

    def describe(self) -> str:
        return f"{self.base.describe()}, on {len(self.rings)} unwrapped rings of the ceiling view"

    def close(self) -> None:
        self.base.close()


NADIR_RING = (0.03, 0.6)  # the second ring's radii, fractions of the image radius


def tracker_boxes(people: CeilingDetections) -> Detections:
    """Axis-aligned image boxes centred on each person (for the tracker)."""
    if len(people.scores) == 0:
        return Detections.empty()
    spans = people.corners.max(axis=1) - people.corners.min(axis=1)
    half = spans.max(axis=1, keepdims=True) / 2
    boxes = np.concatenate([people.points - half, people.points + half], axis=1)
    return Detections(boxes.astype(np.float32), people.scores.astype(np.float32))


def _inside_tile(boxes: np.ndarray, x: int, width: int, size: int) -> np.ndarray:
    """Drop boxes cut by a tile's inner left or right edge."""
    keep = np.ones(len(boxes), dtype=bool)
    if x > 0:
        keep &= boxes[:, 0] > 3
    if x + size < width:
        keep &= boxes[:, 2] < size - 3
    return keep


def _fold(found: Detections, width: int) -> Detections:
    """Bring boxes found in the repeated columns back to ``[0, width)``."""
    boxes = found.boxes.copy()
    shift = boxes[:, 0] >= width
    boxes[shift, 0] -= width
    boxes[shift, 2] -= width
    return Detections(boxes, found.scores)


def _suppress_nested(found: Detections, width: int) -> Detections:
    """Keep the best box of each person: drop a box whose centre lies in a
    higher-scored box (columns compared around the 360-degree seam). NMS by
    overlap alone keeps a tight box inside a loose one of the same person."""
    order = np.argsort(-found.scores)
    boxes = found.boxes
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    kept: list[int] = []
    for i in order.tolist():
        u, v = centres[i]
        nested = False
        for j in kept:
            x1, y1, x2, y2 = boxes[j]
            du = abs(((u - (x1 + x2) / 2) + width / 2) % width - width / 2)
            if du <= (x2 - x1) / 2 and y1 <= v <= y2:
                nested = True
                break
        if not nested:
            kept.append(i)
    return found.select(np.array(kept, dtype=int))


def _empty() -> CeilingDetections:
    return CeilingDetections(np.zeros((0, 2)), np.zeros((0, 4, 2)), np.zeros(0, np.float32))
