"""Per-person state kept in numpy arrays, one row per tracked person.

Counters update every person of a frame in one compiled call
(:mod:`occusense.analytics.kernels`); this table maps person IDs to rows of
their state arrays through a hash table the kernels read and write. Rows
are reused when people leave, so memory stays flat over days.
"""

from __future__ import annotations

import numpy as np

from occusense.analytics import kernels

TableArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class PersonTable:
    """Maps person IDs (non-negative: -1 marks a free slot) to rows of the
    caller's state arrays.

    Example:
        >>> table = PersonTable()
        >>> table.reserve(2)
        False
        >>> [table.add(7), table.add(9), table.row(9), table.row(5)]
        [0, 1, 1, None]
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self.ids = np.full(capacity, kernels.EMPTY, dtype=np.int64)  # row -> person
        self._free = np.arange(capacity - 1, -1, -1, dtype=np.int64)  # a stack
        self._meta = np.array([capacity], dtype=np.int64)  # [free rows]
        self._bits = np.zeros(1, dtype=np.int64)
        self._keys = self._vals = np.zeros(0, dtype=np.int64)
        self._rehash()

    def reserve(self, people: int) -> bool:
        """Make room for ``people`` new rows; True when the table grew (the
        caller then grows its arrays with :meth:`fit`). The line and region
        counters call it only when their kernel answered ``NO_ROOM`` (it is
        off their hot path); the dwell timer, whose kernel returns arrays,
        before each frame."""
        if self._meta[0] >= people:
            return False
        old, free = self.capacity, int(self._meta[0])
        self.capacity = max(2 * old, old - free + people)
        self.ids = np.concatenate([self.ids, np.full(self.capacity - old, kernels.EMPTY)])
        added = np.arange(self.capacity - 1, old - 1, -1, dtype=np.int64)
        self._free = np.concatenate([added, self._free[:free], np.zeros(old - free, np.int64)])
        self._meta[0] = free + len(added)
        self._rehash()
        return True

    def _rehash(self) -> None:
        """A hash of at least twice the rows keeps the probe runs short."""
        bits = max(4, int(self.capacity * 2 - 1).bit_length())
        self._bits[0] = bits
        self._keys = np.full(1 << bits, kernels.EMPTY, dtype=np.int64)
        self._vals = np.zeros(1 << bits, dtype=np.int64)
        kernels.table_rebuild(self._keys, self._vals, bits, self.ids)
        # the table as the kernels take it
        self.arrays: TableArrays = (
            self._keys, self._vals, self._bits, self.ids, self._free, self._meta
        )

    def add(self, pid: int) -> int:
        """The row of ``pid``, allocated if new (call :meth:`reserve` first)."""
        row, _ = kernels.table_row(
            self._keys, self._vals, int(self._bits[0]), self.ids, self._free, self._meta, pid
        )
        return int(row)

    def row(self, pid: int) -> int | None:
        row = kernels.table_find(self._keys, self._vals, int(self._bits[0]), pid)
        return None if row < 0 else int(row)

    def release(self, rows: np.ndarray) -> None:
        keys, vals, bits, ids, free, meta = self.arrays
        for row in rows.tolist():
            kernels.table_release(keys, vals, int(bits[0]), ids, free, meta, row)

    def used(self) -> np.ndarray:
        return self.ids != kernels.EMPTY

    def clear(self) -> None:
        self.release(np.flatnonzero(self.used()))

    def fit(self, array: np.ndarray, fill: float) -> np.ndarray:
        """``array`` grown to the table's capacity (rows), new rows ``fill``."""
        if len(array) >= self.capacity:
            return array
        extra = np.full((self.capacity - len(array), *array.shape[1:]), fill, array.dtype)
        return np.concatenate([array, extra])
