"""MOTChallenge CSV tracks: ``frame,id,left,top,width,height,conf,x,y,z``."""

from __future__ import annotations

import warnings
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


MAX_FRAME = 10_000_000  # about 11 days at 10 frames/s


def load_mot(path: str | Path, drop_ignored: bool = True) -> MotTracks:
    """Read a MOT file; rows whose 7th column is 0 are ignore-boxes (MOT rule)."""
    data = _read_rows(Path(path))
    ignored: dict[int, np.ndarray] = {}
    if drop_ignored and data.shape[1] >= 7:
        ignored = {f: _xyxy(rows) for f, rows in _by_frame(data[data[:, 6] == 0]).items()}
        data = data[data[:, 6] != 0]
    frames = {
        f: (rows[:, 1].astype(np.int64), _xyxy(rows)) for f, rows in _by_frame(data).items()
    }
    return MotTracks(frames, ignored)


def _read_rows(path: Path) -> np.ndarray:
    """The file's rows as numbers, each checked: a clear error names the first
    bad row instead of a NumPy traceback or a silent cast of ``inf``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file is an empty result
            data = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise OccusenseError(f"{path}: not a MOT CSV file ({exc})") from None
    if not data.size:
        return np.zeros((0, 7))
    if data.shape[1] < 6:
        raise OccusenseError(f"{path}: MOT rows need at least 6 columns, got {data.shape[1]}")
    with np.errstate(invalid="ignore"):  # NaN and inf are reported by the first check
        problems = _problems(data)
    for bad, what in problems:
        if bad.any():
            row = int(np.argmax(bad)) + 1
            raise OccusenseError(f"{path}: data row {row} has {what}")
    return data


def _problems(data: np.ndarray) -> tuple[tuple[np.ndarray, str], ...]:
    return (
        (~np.isfinite(data[:, :7]).all(axis=1), "a value that is not a finite number"),
        ((data[:, 0] < 1) | (data[:, 0] > MAX_FRAME) | (data[:, 0] % 1 != 0),
         f"a frame number that is not a whole number 1-{MAX_FRAME}"),
        ((data[:, 1] % 1 != 0) | (np.abs(data[:, 1]) > 2**53), "a track id that is not whole"),
        ((data[:, 4] < 0) | (data[:, 5] < 0), "a negative width or height"),
    )


def _by_frame(data: np.ndarray) -> dict[int, np.ndarray]:
    """Rows grouped by frame number, in one sort (not one scan per frame)."""
    if not len(data):
        return {}
    data = data[np.argsort(data[:, 0], kind="stable")]
    numbers, starts = np.unique(data[:, 0].astype(np.int64), return_index=True)
    groups = np.split(data, starts[1:])
    return {int(n): rows for n, rows in zip(numbers.tolist(), groups, strict=True)}


def _xyxy(rows: np.ndarray) -> np.ndarray:
    boxes = rows[:, 2:6].copy()
    boxes[:, 2:] += boxes[:, :2]
    return boxes
