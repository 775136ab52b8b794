"""Privacy masks (SPEC P4): painted over the frame before detection, and
people whose point falls inside a mask are dropped, so a masked person is
neither seen nor counted."""

from __future__ import annotations

import cv2
import numpy as np

from occusense.analytics.geometry import PolygonZone, anchor_points, to_pixels
from occusense.config.features import MaskColour, PrivacyMasks
from occusense.detect.base import Detections


class MaskPainter:
    """Applies the enabled masks of ``settings`` to frames of one size."""

    def __init__(self, settings: PrivacyMasks, width: int, height: int) -> None:
        polys = [
            to_pixels(m.points, width, height)
            for m in settings.masks
            if settings.enabled and m.enabled
        ]
        self.zones = [PolygonZone(p) for p in polys]
        self.colour = (255, 255, 255) if settings.colour is MaskColour.white else (0, 0, 0)
        self._stencil = None
        if polys:
            self._stencil = np.zeros((height, width), dtype=np.uint8)
            cv2.fillPoly(
                self._stencil, [np.round(p).astype(np.int32) for p in map(np.array, polys)], 255
            )

    @property
    def active(self) -> bool:
        return self._stencil is not None

    def paint(self, image: np.ndarray) -> np.ndarray:
        """A copy of ``image`` with the masked pixels filled."""
        if self._stencil is None:
            return image
        out = image.copy()
        out[self._stencil > 0] = self.colour
        return out

    def masked(self, points: np.ndarray) -> np.ndarray:
        """Which points fall inside an enabled mask."""
        hidden = np.zeros(len(points), dtype=bool)
        for zone in self.zones:
            hidden |= zone.contains(points)
        return hidden

    def drop_masked(self, found: Detections, centre: bool) -> Detections:
        if not self.zones or len(found) == 0:
            return found
        return found.select(~self.masked(anchor_points(found.boxes, centre)))
