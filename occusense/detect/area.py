"""The part of the frame that matters: what the counters look at, minus masks.

A ceiling camera skips panorama tiles over none of it (issue: no tiles over
masked or unused areas).
"""

from __future__ import annotations

import cv2
import numpy as np

from occusense.analytics.geometry import to_pixels
from occusense.config.features import AreaMode
from occusense.config.model import DeviceConfig

LINE_REACH = 0.08  # of the frame's shorter side, each side of the line


def used_area(config: DeviceConfig, width: int, height: int) -> np.ndarray:
    """``uint8`` mask, 255 where a person could change a count."""
    mask = np.zeros((height, width), np.uint8)
    rc, lc, pf = config.region_counting, config.line_crossing, config.people_flow
    whole = False
    if rc.enabled:
        if rc.customize_area and rc.regions and rc.area_mode is AreaMode.mapped:
            for region in rc.regions:
                _fill(mask, region.points, width, height)
        else:
            whole = True
    if lc.enabled and lc.line.points:
        pts = np.round(to_pixels(lc.line.points, width, height)).astype(np.int32)
        reach = max(2, round(LINE_REACH * min(width, height)))
        cv2.polylines(mask, [pts], False, 255, thickness=2 * reach)
        if lc.uturn_filter and lc.uturn_area:
            _fill(mask, lc.uturn_area, width, height)
    if pf.enabled and pf.area:
        _fill(mask, pf.area, width, height)
    if whole or not mask.any():
        mask[:] = 255
    masks = config.privacy_masks
    if masks.enabled:
        for m in masks.masks:
            if m.enabled:
                _fill(mask, m.points, width, height, value=0)
    return mask


def _fill(mask: np.ndarray, points, width: int, height: int, value: int = 255) -> None:
    poly = np.round(to_pixels(points, width, height)).astype(np.int32)
    cv2.fillPoly(mask, [poly], value)
