"""Synthetic overhead scenes built from real footage, to measure ceiling mode.

People are cut from frames of the PETS 2009 sample (vtest.avi) with their
ground-truth boxes and pasted onto an empty floor (the sequence's median
background) at known positions, each rotated so that its head points away
from the nadir, as a ceiling camera sees people. The scene knows where
everyone is, so a detector's count and positions can be checked.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from occusense.evaluation.mot import MotTracks


@dataclass
class PersonCrop:
    image: np.ndarray


@dataclass
class OverheadScene:
    image: np.ndarray
    points: np.ndarray  # (N, 2) where each person's centre was pasted
    heights: np.ndarray  # (N,) pasted height in pixels


class SceneMaker:
    """Cuts people and a floor out of a video with MOT ground truth.

    Args:
        video: the sample video.
        gt: its ground truth.
        frames: how many evenly spaced frames to cut people from.
    """

    def __init__(self, video: str, gt: MotTracks, frames: int = 40) -> None:
        cap = cv2.VideoCapture(video)
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or gt.last_frame
        wanted = set(np.linspace(1, total, frames).astype(int).tolist())
        images, crops = [], []
        index = 0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            index += 1
            if index in wanted:
                images.append(image)
                crops += _people(image, gt, index)
        cap.release()
        self.floor = np.median(np.stack(images), axis=0).astype(np.uint8)
        self.crops = crops

    def floor_image(self, size: int) -> np.ndarray:
        """An empty floor: the paved walkway of the background, tiled."""
        h, w = self.floor.shape[:2]
        patch = self.floor[int(h * 0.40) : int(h * 0.56), int(w * 0.52) : int(w * 0.85)]
        reps = (size // patch.shape[0] + 1, size // patch.shape[1] + 1, 1)
        return np.tile(patch, reps)[:size, :size].copy()

    def scene(
        self,
        size: int,
        polar: list[tuple[float, float]],
        person_height: float,
        seed: int = 0,
    ) -> OverheadScene:
        """People at ``(radius fraction, angle in degrees)`` around the centre."""
        rng = np.random.default_rng(seed)
        image = self.floor_image(size)
        centre = np.array([size / 2, size / 2])
        points, heights = [], []
        for frac, angle in polar:
            crop = self.crops[int(rng.integers(len(self.crops)))].image
            theta = math.radians(angle)
            target = centre + frac * size / 2 * np.array([math.cos(theta), math.sin(theta)])
            _paste(image, crop, target, theta, person_height * 1.2 / crop.shape[0])
            points.append(target)
            heights.append(person_height)
        return OverheadScene(image, np.array(points), np.array(heights))


def random_scenes(
    maker: SceneMaker,
    size: int,
    height: float,
    count: int,
    max_people: int,
    angle_step: int,
    jitter: float,
    radii: tuple[float, float],
):
    """``count`` seeded scenes of 1..``max_people`` people at distinct angles
    (multiples of ``angle_step`` plus up to ``jitter`` degrees) and random radii."""
    for seed in range(count):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, max_people + 1))
        angles = rng.choice(np.arange(0, 360, angle_step), n, replace=False)
        angles = angles + rng.uniform(0, jitter, n)
        polar = [(float(rng.uniform(*radii)), float(a)) for a in angles]
        yield maker.scene(size, polar, height, seed)


def _people(image: np.ndarray, gt: MotTracks, frame: int) -> list[PersonCrop]:
    """Whole, unoccluded, tall enough people of one frame, with a margin of
    their surroundings (a detector needs some context)."""
    _, boxes = gt.at(frame)
    out = []
    for i, box in enumerate(boxes):
        bw, bh = box[2] - box[0], box[3] - box[1]
        x1, y1 = int(box[0] - 0.3 * bw), int(box[1] - 0.1 * bh)
        x2, y2 = int(box[2] + 0.3 * bw), int(box[3] + 0.1 * bh)
        others = np.delete(boxes, i, axis=0)
        overlap = (
            (others[:, 0] < x2) & (others[:, 2] > x1) & (others[:, 1] < y2) & (others[:, 3] > y1)
        )
        inside = x1 >= 0 and y1 >= 0 and x2 <= image.shape[1] and y2 <= image.shape[0]
        if inside and not overlap.any() and bh >= 60:
            out.append(PersonCrop(image[y1:y2, x1:x2].copy()))
    return out


def _paste(image: np.ndarray, crop: np.ndarray, target, theta: float, scale: float) -> None:
    """Paste ``crop`` centred on ``target``, its up direction along ``theta``."""
    phi = theta + math.pi / 2  # rotates the crop's up (0, -1) onto (cos, sin) theta
    h, w = crop.shape[:2]
    rot = np.array([[math.cos(phi), -math.sin(phi)], [math.sin(phi), math.cos(phi)]]) * scale
    offset = np.asarray(target) - rot @ np.array([w / 2, h / 2])
    matrix = np.hstack([rot, offset[:, None]]).astype(np.float64)
    size = (image.shape[1], image.shape[0])
    warped = cv2.warpAffine(crop, matrix, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, size, flags=cv2.INTER_NEAREST)
    image[mask > 0] = warped[mask > 0]


# Scenarios of the accuracy suite: (name, people per scene at most, angle
# step between people in degrees, radii as fractions of the image radius).
SCENARIOS = (
    ("walking, spread out", 8, 40, (0.40, 0.85)),
    ("close together", 10, 20, (0.40, 0.85)),
    ("near the nadir", 6, 60, (0.15, 0.40)),
)


def measure_scenes(detector, scenes, reach: float = 0.35) -> dict:
    """People found (a detection within ``reach`` x their height of where
    they were pasted, one-to-one) and extra detections, over ``scenes``."""
    people = found = extra = exact = count = 0
    began = time.perf_counter()
    for scene in scenes:
        result = detector.find(scene.image)
        hits = 0
        if len(result.points):
            dist = np.linalg.norm(result.points[:, None] - scene.points[None], axis=2)
            rows, cols = linear_sum_assignment(dist)
            hits = int((dist[rows, cols] < reach * scene.heights[cols]).sum())
        found += hits
        extra += len(result.points) - hits
        people += len(scene.points)
        exact += len(result.points) == len(scene.points)
        count += 1
    seconds = time.perf_counter() - began
    return {"people": people, "recall": round(found / people, 4) if people else 1.0,
            "extra_per_scene": round(extra / count, 3), "exact_scenes": exact,
            "scenes": count, "fps": round(count / seconds, 1)}
