"""Heatmaps: where people were, hour by hour, as a coarse grid over the frame.

Each tracked person's point (the one the counting uses: the feet, or the
box centre for a ceiling camera) adds the time until the next frame to its
cell, so a cell holds person-seconds whatever the frame rate. The grid is
relative to the frame (``COLUMNS`` x ``ROWS`` cells), never a picture:
nothing of what the camera saw is kept, and people inside a privacy mask
are never seen (the masks are painted before detection).

Hours are kept in ``<state_dir>/heatmap.sqlite`` (stdlib sqlite3: one row
an hour, the grid as float32 bytes; a camera-year is about 27 MB); the
current hour is written at most once a minute and when the sensor stops.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from occusense.files import private_file

log = logging.getLogger(__name__)

COLUMNS, ROWS = 32, 24
HOUR = 3600
MAX_GAP_S = 2.0  # a longer gap between frames (an outage) adds no presence
SAVE_EVERY_S = 60.0
FILE = "heatmap.sqlite"


class HeatmapError(Exception):
    """A heatmap query that cannot be answered (a bad period)."""


class Heatmap:
    """The hourly grids of one camera.

    Args:
        state_dir: the camera's state folder (``heatmap.sqlite`` in it).
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / FILE
        self._lock = threading.Lock()
        self._hour: int | None = None
        self._grid = np.zeros((ROWS, COLUMNS), np.float64)
        self._last_ts: float | None = None
        self._saved_at = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        private_file(self.path)  # 0600, as every state file (SQLite's -wal/-shm follow it)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS hours (hour INTEGER PRIMARY KEY, "
                         "cols INTEGER, rows INTEGER, cells BLOB)")
        self._db.commit()

    # ---------------------------------------------------------------- writing
    def add(self, ts: float, points: np.ndarray, width: int, height: int) -> None:
        """The people's points (pixels) in a frame at ``ts``."""
        with self._lock:
            gap = 0.0 if self._last_ts is None else ts - self._last_ts
            self._last_ts = ts
            hour = int(ts // HOUR) * HOUR
            if self._hour is not None and hour != self._hour:
                self._write(self._hour, self._grid)
                self._grid = np.zeros_like(self._grid)
            self._hour = hour
            if 0 < gap <= MAX_GAP_S and len(points) and width and height:
                cols = np.clip((points[:, 0] / width * COLUMNS).astype(int), 0, COLUMNS - 1)
                rows = np.clip((points[:, 1] / height * ROWS).astype(int), 0, ROWS - 1)
                np.add.at(self._grid, (rows, cols), gap)
            if time.monotonic() - self._saved_at >= SAVE_EVERY_S:
                self._write(hour, self._grid)

    def _write(self, hour: int, grid: np.ndarray) -> None:
        try:
            self._db.execute("INSERT OR REPLACE INTO hours VALUES (?, ?, ?, ?)",
                             (hour, COLUMNS, ROWS, grid.astype(np.float32).tobytes()))
            self._db.commit()
        except sqlite3.Error as exc:  # a full disk: the hour is kept in memory meanwhile
            log.warning("heatmap: the hour cannot be saved (%s)", exc)
        self._saved_at = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if self._hour is not None:
                self._write(self._hour, self._grid)
            self._db.close()

    # ---------------------------------------------------------------- reading
    def grid(self, since: float, until: float) -> np.ndarray:
        """Person-seconds per cell over the hours that overlap [since, until)."""
        if until <= since:
            raise HeatmapError("the period's end is not after its start")
        first = int(since // HOUR) * HOUR
        with self._lock:
            rows = self._db.execute("SELECT hour, cols, rows, cells FROM hours WHERE hour >= ? "
                                    "AND hour < ?", (first, until)).fetchall()
            total = np.zeros((ROWS, COLUMNS), np.float64)
            for hour, cols, nrows, cells in rows:
                if hour == self._hour or (cols, nrows) != (COLUMNS, ROWS):
                    continue  # the current hour is taken from memory
                total += np.frombuffer(cells, np.float32).reshape(ROWS, COLUMNS)
            if self._hour is not None and first <= self._hour < until:
                total += self._grid
        return total


def open_heatmap(state_dir: str | Path) -> Heatmap | None:
    """The camera's heatmap, or None when its file cannot be opened (said
    once; the sensor counts on without it)."""
    try:
        return Heatmap(state_dir)
    except (OSError, sqlite3.Error) as exc:
        log.error("heatmap: %s cannot be opened (%s); the sensor counts on without it",
                  Path(state_dir) / FILE, exc)
        return None


def to_png(grid: np.ndarray, width: int = 640, height: int = 480) -> bytes:
    """The grid as a PNG (transparent where nobody was), ``width`` x ``height``:
    to lay over the camera's picture."""
    top = float(grid.max())
    level = (np.sqrt(grid / top) * 255).astype(np.uint8) if top > 0 else grid.astype(np.uint8)
    big = cv2.resize(level, (width, height), interpolation=cv2.INTER_CUBIC)
    colour = cv2.applyColorMap(big, cv2.COLORMAP_JET)
    alpha = np.clip(big.astype(np.float32) * 1.6, 0, 200).astype(np.uint8)
    ok, png = cv2.imencode(".png", np.dstack([colour, alpha]))
    return png.tobytes() if ok else b""
