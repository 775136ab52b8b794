"""Per-person state kept in numpy arrays, one row per tracked person.

Counters update every person of a frame at once; a dict of per-person
objects cost a Python loop per person and capped the analytics near 100k
track-point updates per second (bench/analytics_bench.py). Rows are reused
when people leave, so memory stays flat over days.
"""

from __future__ import annotations

import numpy as np

FEW = 32  # up to this many people a dict lookup each beats numpy's overhead


class PersonTable:
    """Maps person IDs to rows of the caller's state arrays.

    Example:
        >>> table = PersonTable()
        >>> rows, new = table.rows(np.array([7, 9]))
        >>> rows.tolist(), new.tolist()
        ([0, 1], [True, True])
        >>> table.rows(np.array([9]))[0].tolist()
        [1]
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._row_of: dict[int, int] = {}
        self._free: list[int] = list(range(capacity - 1, -1, -1))
        self.ids = np.full(capacity, -1, dtype=np.int64)
        self.grown = False  # set when the caller must grow its arrays
        # the known IDs sorted, and their rows: most frames hold only known
        # people, found with one searchsorted instead of a dict lookup each
        self._sorted_ids = np.zeros(0, dtype=np.int64)
        self._sorted_rows = np.zeros(0, dtype=np.int64)
        self._stale = False

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows for ``ids`` (allocating new ones) and which were new."""
        if len(ids) <= FEW:
            return self._rows_few(ids)
        if self._stale:
            self._reindex()
        keys = self._sorted_ids
        if len(keys):
            at = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
            found = keys[at] == ids
            out = np.where(found, self._sorted_rows[at], -1)
        else:
            found = np.zeros(len(ids), dtype=bool)
            out = np.full(len(ids), -1, dtype=np.int64)
        new = ~found
        for i in np.flatnonzero(new).tolist():
            out[i] = self._allocate(int(ids[i]))
        return out, new

    def _rows_few(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = [self._row_of.get(pid) for pid in ids.tolist()]
        new = np.array([row is None for row in rows], dtype=bool)
        out = np.array(
            [self._allocate(pid) if row is None else row
             for pid, row in zip(ids.tolist(), rows, strict=True)],
            dtype=np.int64,
        )
        return out, new

    def _allocate(self, pid: int) -> int:
        if not self._free:
            self._grow()
        row = self._row_of[pid] = self._free.pop()
        self.ids[row] = pid
        self._stale = True
        return row

    def _reindex(self) -> None:
        used = np.flatnonzero(self.ids >= 0)
        order = np.argsort(self.ids[used])
        self._sorted_rows = used[order]
        self._sorted_ids = self.ids[self._sorted_rows]
        self._stale = False

    def row(self, pid: int) -> int | None:
        return self._row_of.get(pid)

    def release(self, rows: np.ndarray) -> None:
        for row in rows.tolist():
            pid = int(self.ids[row])
            if pid >= 0:
                del self._row_of[pid]
                self.ids[row] = -1
                self._free.append(row)
                self._stale = True

    def used(self) -> np.ndarray:
        return self.ids >= 0

    def clear(self) -> None:
        self.release(np.flatnonzero(self.used()))

    def _grow(self) -> None:
        old = self.capacity
        self.capacity *= 2
        self.ids = np.concatenate([self.ids, np.full(old, -1, dtype=np.int64)])
        self._free.extend(range(self.capacity - 1, old - 1, -1))
        self.grown = True

    def fit(self, array: np.ndarray, fill: float) -> np.ndarray:
        """``array`` grown to the table's capacity (rows), new rows ``fill``."""
        if len(array) >= self.capacity:
            return array
        extra = np.full((self.capacity - len(array), *array.shape[1:]), fill, array.dtype)
        return np.concatenate([array, extra])
