"""The detector interface (SPEC P2).

Every person detector — the bundled NanoDet, a bigger ONNX model, a remote
inference server — returns :class:`Detections` for a BGR frame. The pipeline
depends only on :class:`Detector`, so a backend is swapped by config alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detections:
    """People found in one frame.

    Attributes:
        boxes: ``(N, 4)`` float32 pixel boxes ``x1, y1, x2, y2`` in the frame.
        scores: ``(N,)`` float32 confidences in ``0..1``.
    """

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> Detections:
        """Return the detections where the boolean or index array ``keep`` says."""
        return Detections(self.boxes[keep], self.scores[keep])

    @classmethod
    def empty(cls) -> Detections:
        return cls()


class Detector(Protocol):
    """Finds people in a BGR image."""

    name: str

    def detect(self, frame: np.ndarray) -> Detections:
        """Return every person in ``frame`` (H x W x 3, uint8, BGR)."""
        ...
