"""Dwell time detection (SPEC R6) and its period statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from occusense.analytics import kernels
from occusense.analytics.table import PersonTable


@dataclass(frozen=True)
class DwellRecord:
    """One finished dwell in a region (R6 trigger)."""

    region: int
    person_id: int
    start: float
    end: float

    @property
    def duration_ms(self) -> int:
        return round((self.end - self.start) * 1000)


@dataclass
class DwellStats:
    """Dwells of one region: finished ones plus those still going on."""

    durations: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.durations.append(seconds)

    def summary(self) -> tuple[float, float]:
        """(max, average) in seconds; zeros when nobody dwelt."""
        if not self.durations:
            return 0.0, 0.0
        return max(self.durations), sum(self.durations) / len(self.durations)


class DwellTimer:
    """Times how long each person stays in each region.

    A stay starts when a person is first inside a region and ends once they
    have been out of it, or unseen, for ``debounce_s`` (the same debounce as
    the region count, R4); it lasts until the last moment they were inside.
    Stays shorter than ``min_dwell_s`` are not dwells. Each finished dwell
    becomes a trigger record; :meth:`take_period` gives each region's max
    and average over the dwells that finished in the period and those still
    going on at its end (a person in a two-hour meeting shows up in every
    hourly report, not only after leaving).

    Args:
        regions: number of regions (numbered from 1).
        min_dwell_s: shortest stay that counts (guide default 2 s).
        debounce_s: how long a person may be out of sight or out of the
            region before the stay ends.
        max_dwell_s: 0, or the longest stay that counts: longer ones (staff
            at their desks) are left out of the records and statistics.

    Example:
        >>> timer = DwellTimer(regions=1, min_dwell_s=2, debounce_s=1)
        >>> inside = np.array([[True]])
        >>> for t in range(6):
        ...     _ = timer.update(float(t), np.array([7]), inside)
        >>> [round(d.end - d.start) for d in timer.update(8.0, np.array([], int),
        ...                                                 np.zeros((0, 1), bool))]
        [5]
    """

    def __init__(
        self, regions: int, min_dwell_s: float, debounce_s: float, max_dwell_s: float = 0,
        long_stay_s: float = 0,
    ) -> None:
        self.regions = regions
        self.long_stay_s = long_stay_s
        self._said: set[tuple[int, int, float]] = set()  # long stays told: (person, region, start)
        self.min_dwell_s = min_dwell_s
        self.max_dwell_s = max_dwell_s or float("inf")
        self.debounce_s = debounce_s
        self._table = PersonTable()
        # per person row and region: when the stay began, when last inside
        # (-inf: no stay open)
        self._start = np.zeros((self._table.capacity, regions))
        self._last = np.full((self._table.capacity, regions), -np.inf)
        self._period = [DwellStats() for _ in range(regions)]

    def update(self, ts: float, ids: np.ndarray, inside: np.ndarray) -> list[DwellRecord]:
        """Feed membership ``(N, regions)``; return the dwells that ended."""
        if self._table.reserve(len(ids)):
            self._start = self._table.fit(self._start, 0.0)
            self._last = self._table.fit(self._last, -np.inf)
        closed = kernels.dwell_update(
            self._table.arrays, float(ts), float(self.debounce_s),
            ids.astype(np.int64, copy=False), inside, self._start, self._last,
        )
        return self._close(*closed)

    def end_all(self) -> list[DwellRecord]:
        """Close every open stay (end of the source, or the schedule stops)."""
        return self._close(*kernels.dwell_close_all(self._table.arrays, self._start, self._last))

    def _close(
        self, pids: np.ndarray, regions: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> list[DwellRecord]:
        records = []
        for pid, region, start, end in zip(
            pids.tolist(), regions.tolist(), starts.tolist(), ends.tolist(), strict=True
        ):
            if self._counts(end - start):
                record = DwellRecord(region + 1, pid, start, end)
                self._period[region].add(end - start)
                records.append(record)
        return records

    def _counts(self, seconds: float) -> bool:
        return self.min_dwell_s <= seconds <= self.max_dwell_s

    def longest_now(self) -> list[float]:
        """Per region, the longest stay going on now (seconds; 0 = nobody)."""
        open_ = self._open()
        spans = np.where(open_, self._last - self._start, 0.0)
        return [round(float(v), 1) for v in (spans.max(axis=0) if len(spans) else
                                              np.zeros(self.regions))]

    def long_stays(self) -> list[tuple[int, int, float, float]]:
        """Stays going on that have just passed ``long_stay_s``, each told once:
        ``(person id, region from 1, start, last moment inside)``."""
        if not self.long_stay_s:
            return []
        row_ids = self._table.arrays[3]
        going = set()
        out = []
        for row, region in zip(*np.nonzero(self._open()), strict=True):
            start, last = float(self._start[row, region]), float(self._last[row, region])
            key = (int(row_ids[row]), int(region) + 1, start)
            going.add(key)
            if last - start >= self.long_stay_s and key not in self._said:
                self._said.add(key)
                out.append((*key, last))
        self._said &= going  # stays that ended are forgotten
        return out

    def take_period(self, ts: float) -> list[tuple[int, float, float]]:
        """``(region, max s, average s)`` for the period ending at ``ts``."""
        stats = self._period
        for row, region in zip(*np.nonzero(self._open()), strict=True):
            ongoing = float(self._last[row, region] - self._start[row, region])
            if self._counts(ongoing):
                stats[region].add(ongoing)
        self._period = [DwellStats() for _ in range(self.regions)]
        return [(r + 1, *s.summary()) for r, s in enumerate(stats)]

    def reset_stats(self, ts: float) -> None:
        """R8: forget the statistics so far; open stays count again from ``ts``."""
        self._period = [DwellStats() for _ in range(self.regions)]
        open_ = self._open()
        self._start[open_] = np.maximum(self._start[open_], ts)

    def _open(self) -> np.ndarray:
        return self._last != -np.inf
