"""MOTChallenge CSV tracks: ``frame,id,left,top,width,height,conf,x,y,z``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from occusense.errors import OccusenseError


@dataclass
class MotTracks:
    """Tracks by frame. ``frames`` maps a frame number (from 1) to its rows."""

    frames: dict[int, tuple[np.ndarray, np.ndarray]]
    ignored: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def last_frame(self) -> int:
        return max(self.frames, default=0)

    def ignored_at(self, frame: int) -> np.ndarray:
        """xyxy boxes the ground truth says to ignore in ``frame`` (MOT conf 0)."""
        return self.ignored.get(frame, np.zeros((0, 4)))

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
    ignored: dict[int, np.ndarray] = {}
    if drop_ignored and data.size and data.shape[1] >= 7:
        for row in data[data[:, 6] == 0]:
            box = np.array([row[2], row[3], row[2] + row[4], row[3] + row[5]])
            ignored.setdefault(int(row[0]), np.zeros((0, 4)))
            ignored[int(row[0])] = np.vstack([ignored[int(row[0])], box])
        data = data[data[:, 6] != 0]
    frames: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for frame in np.unique(data[:, 0]).astype(int) if data.size else []:
        rows = data[data[:, 0] == frame]
        boxes = rows[:, 2:6].copy()
        boxes[:, 2:] += boxes[:, :2]
        frames[int(frame)] = (rows[:, 1].astype(np.int64), boxes)
    return MotTracks(frames, ignored)
