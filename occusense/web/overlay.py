"""The live view's picture (SPEC G3): the frame with its overlays.

Drawn server-side with OpenCV so the browser only shows JPEGs: regions with
their numbers, privacy masks, the line with its In arrow, the flow area with
its edge names, tracked people with their IDs, and the current counts. In
Blur privacy mode the picture is low-resolution, blurred and grey (P5).
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

from occusense.analytics.geometry import anchor_points, to_pixels
from occusense.config.device import PrivacyMode
from occusense.config.model import DeviceConfig
from occusense.track import TrackedPeople

REGION = (255, 170, 0)
LINE = (0, 200, 255)
FLOW = (200, 80, 255)
PERSON = (60, 220, 60)


def blur(image: np.ndarray) -> np.ndarray:
    """Blur mode: a quarter of the resolution, blurred, black and white."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 0), cv2.COLOR_BGR2GRAY)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def render(
    image: np.ndarray, config: DeviceConfig, people: TrackedPeople, counts: dict,
    shapes: bool = True,
) -> np.ndarray:
    """The frame (masks already painted) with every overlay drawn on it; with
    ``shapes`` off only the people (the Draw page draws the shapes itself)."""
    if config.privacy_mode is PrivacyMode.blur:
        # the blurred picture brought back to full size before anything is
        # drawn: the overlays stay sharp, the people stay a blur
        h0, w0 = image.shape[:2]
        out = cv2.resize(blur(image), (w0, h0), interpolation=cv2.INTER_LINEAR)
    else:
        out = image.copy()
    scale = 1.0
    h, w = out.shape[:2]
    if not shapes:
        _people(out, people, scale, config.uses_box_centre)
        return out
    rc = config.region_counting
    if rc.enabled and rc.customize_area:
        for region in rc.regions:
            pts = np.round(to_pixels(region.points, w, h)).astype(np.int32)
            cv2.polylines(out, [pts], True, REGION, 2)
        for number, region in enumerate(rc.regions, 1):  # over every shape's edges
            centre = np.mean(to_pixels(region.points, w, h), axis=0)
            label(out, region.name.strip() or str(number), centre, REGION, 0.55)
    lc = config.line_crossing
    if lc.enabled and lc.line.points:
        _line(out, to_pixels(lc.line.points, w, h))
    pf = config.people_flow
    if pf.enabled and pf.area:
        _flow(out, to_pixels(pf.area, w, h), pf.active_edge_names)
    _people(out, people, scale, config.uses_box_centre)
    _counts(out, counts)
    return out


def _line(out: np.ndarray, points: list[tuple[float, float]]) -> None:
    pts = np.round(points).astype(np.int32)
    cv2.polylines(out, [pts], False, LINE, 2)
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        # the In arrow points to the left of P1->P2 on screen (y down)
        nx, ny = (y2 - y1) / length, -(x2 - x1) / length
        tip = (round(mx + 25 * nx), round(my + 25 * ny))
        cv2.arrowedLine(out, (round(mx), round(my)), tip, LINE, 2, tipLength=0.4)
        label(out, "IN", (mx + 42 * nx, my + 42 * ny), LINE, 0.5)


def _flow(out: np.ndarray, corners: list[tuple[float, float]], names: list[str]) -> None:
    pts = np.round(corners).astype(np.int32)
    cv2.polylines(out, [pts], True, FLOW, 2)
    centre = np.mean(np.asarray(corners, dtype=float), axis=0)
    for i, name in enumerate(names):
        a, b = np.asarray(corners[i]), np.asarray(corners[(i + 1) % len(corners)])
        middle = (a + b) / 2
        inward = centre - middle  # the name inside the area, off its edge
        inward = inward / (np.linalg.norm(inward) or 1.0)
        label(out, name, middle + 22 * inward, FLOW, 0.6)


def label(out: np.ndarray, text: str, centre, colour: tuple[int, int, int],
          size: float) -> None:
    """``text`` centred on ``centre`` on a dark chip: readable on any
    background, a shape's edge included."""
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, 1 if size < 0.6 else 2
    (tw, th), base = cv2.getTextSize(text, font, size, thickness)
    h, w = out.shape[:2]
    x = int(min(max(2, round(float(centre[0]) - tw / 2)), max(2, w - tw - 4)))
    y = int(min(max(th + 4, round(float(centre[1]) + th / 2)), h - base - 2))
    chip = out[max(0, y - th - 4):min(h, y + base + 2), max(0, x - 4):min(w, x + tw + 4)]
    chip[:] = (chip * 0.25).astype(out.dtype)  # darkened, the picture still behind it
    cv2.putText(out, text, (x, y), font, size, colour, thickness, cv2.LINE_AA)


def _people(out: np.ndarray, people: TrackedPeople, scale: float, centre: bool) -> None:
    if len(people) == 0:
        return
    boxes = people.boxes * scale
    for pid, box, point in zip(people.ids, boxes, anchor_points(boxes, centre), strict=True):
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), PERSON, 1)
        cv2.circle(out, (round(float(point[0])), round(float(point[1]))), 3, PERSON, -1)
        cv2.putText(
            out, str(int(pid)), (x1, max(10, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, PERSON, 1
        )


def _counts(out: np.ndarray, counts: dict) -> None:
    text = "  ".join(f"{k}: {v}" for k, v in counts.items() if isinstance(v, int))
    if text:
        cv2.rectangle(out, (0, 0), (8 + 8 * len(text), 22), (0, 0, 0), -1)
        cv2.putText(out, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
