"""MOTChallenge CSV tracks: ``frame,id,left,top,width,height,conf,x,y,z``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from occusense.errors import OccusenseError


@dataclass
class MotTracks:
    """Tracks by frame. ``frames`` maps a frame number (from 1) to its rows."""

    frames: dict[int, tuple[np.ndarray, np.ndarray]]

    @property
    def last_frame(self) -> int:
        return max(self.frames, default=0)

    def at(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, xyxy boxes)`` of ``frame`` (empty arrays when none)."""
        return self.frames.get(frame, (np.zeros(0, np.int64), np.zeros((0, 4))))

    def paths(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per track id: ``(frame numbers, xyxy boxes)`` in frame order."""
        rows: dict[int, list[tuple[int, np.ndarray]]] = {}
        for frame in sorted(self.frames):
            ids, boxes = self.frames[frame]
            for tid, box in zip(ids.tolist(), boxes, strict=True):
                rows.setdefault(tid, []).append((frame, box))
        return {
            tid: (np.array([f for f, _ in r]), np.stack([b for _, b in r]))
            for tid, r in rows.items()
        }


def load_mot(path: str | Path, drop_ignored: bool = True) -> MotTracks:
    """Read a MOT file; rows whose 7th column is 0 are ignore-boxes (MOT rule)."""
    try:
        data = np.loadtxt(path, delimiter=",", ndmin=2)
    except (OSError, ValueError) as exc:
        raise OccusenseError(f"{path}: not a MOT CSV file ({exc})") from None
    if data.size and data.shape[1] < 6:
        raise OccusenseError(f"{path}: MOT rows need at least 6 columns")
    if drop_ignored and data.size and data.shape[1] >= 7:
        data = data[data[:, 6] != 0]
    frames: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for frame in np.unique(data[:, 0]).astype(int) if data.size else []:
        rows = data[data[:, 0] == frame]
        boxes = rows[:, 2:6].copy()
        boxes[:, 2:] += boxes[:, :2]
        frames[int(frame)] = (rows[:, 1].astype(np.int64), boxes)
    return MotTracks(frames)
