"""Stable person IDs across tracker ID switches (SPEC L6, R4).

A tracker that loses a person for a few frames (occlusion, two people
merging into one box) often starts a new track when they reappear. Counted
naively, that person crosses the line twice or sits twice in a region while
the old track's debounce runs out. :class:`IdentityStitcher` hands a new
track the ID of a person lost moments ago near where the new track starts,
using the lost person's last velocity to predict where they should be; the
match is a minimum-cost assignment (scipy), gated by distance and size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass
class _Person:
    raw_id: int
    centre: np.ndarray
    height: float
    last_ts: float
    velocity: np.ndarray


class IdentityStitcher:
    """Maps raw tracker IDs to person IDs that survive short track losses.

    Args:
        max_gap_s: a person unseen for longer than this has left for good.
        gate: a new track may take a lost ID when it starts within
            ``gate`` x the person's height of where they were predicted
            (plus half the distance they were predicted to walk).
    """

    def __init__(self, max_gap_s: float = 2.0, gate: float = 0.5) -> None:
        self.max_gap_s = max_gap_s
        self.gate = gate
        self._people: dict[int, _Person] = {}
        self._raw_to_person: dict[int, int] = {}
        self._next_id = 1

    def update(
        self, raw_ids: np.ndarray, boxes: np.ndarray, ts: float
    ) -> tuple[np.ndarray, list[int]]:
        """Person IDs for this frame's tracks, and the IDs that ended."""
        centres = (boxes[:, :2] + boxes[:, 2:]) * 0.5 if len(boxes) else np.zeros((0, 2))
        heights = boxes[:, 3] - boxes[:, 1] if len(boxes) else np.zeros(0)
        ids = np.zeros(len(raw_ids), dtype=np.int64)
        seen: set[int] = set()
        new_rows = []
        for row, raw in enumerate(raw_ids.tolist()):
            pid = self._raw_to_person.get(raw)
            if pid is None or pid in seen or pid not in self._people:
                new_rows.append(row)
                continue
            ids[row] = pid
            seen.add(pid)
        self._assign_new(new_rows, raw_ids, centres, heights, ts, ids, seen)
        for row, pid in enumerate(ids.tolist()):
            self._observe(pid, int(raw_ids[row]), centres[row], float(heights[row]), ts)
        return ids, self._expire(ts)

    def _assign_new(self, rows, raw_ids, centres, heights, ts, ids, seen) -> None:
        lost = [
            pid
            for pid, p in self._people.items()
            if pid not in seen and p.last_ts < ts and ts - p.last_ts <= self.max_gap_s
        ]
        taken: set[int] = set()
        if rows and lost:
            cost = np.full((len(rows), len(lost)), np.inf)
            for j, pid in enumerate(lost):
                p = self._people[pid]
                dt = ts - p.last_ts
                predicted = p.centre + p.velocity * dt
                # the prediction gets less certain the faster and longer they moved
                reach = self.gate * p.height + 0.5 * float(np.linalg.norm(p.velocity)) * dt
                for i, row in enumerate(rows):
                    ratio = heights[row] / max(p.height, 1e-6)
                    dist = float(np.linalg.norm(centres[row] - predicted))
                    if 0.6 <= ratio <= 1.6 and dist <= reach:
                        cost[i, j] = dist / p.height + 0.1 * dt
            finite = np.where(np.isfinite(cost), cost, 1e6)
            for i, j in zip(*linear_sum_assignment(finite), strict=True):
                if np.isfinite(cost[i, j]):
                    ids[rows[i]] = lost[j]
                    taken.add(rows[i])
                    seen.add(lost[j])
        for row in rows:
            if row not in taken:
                ids[row] = self._next_id
                self._next_id += 1

    def _observe(self, pid: int, raw: int, centre, height: float, ts: float) -> None:
        p = self._people.get(pid)
        self._raw_to_person[raw] = pid
        if p is None:
            self._people[pid] = _Person(raw, centre.copy(), height, ts, np.zeros(2))
            return
        dt = ts - p.last_ts
        if dt > 0:
            step = (centre - p.centre) / dt
            p.velocity = step if dt > 0.5 else 0.6 * p.velocity + 0.4 * step
        p.raw_id, p.centre, p.height, p.last_ts = raw, centre.copy(), height, ts

    def _expire(self, ts: float) -> list[int]:
        gone = [pid for pid, p in self._people.items() if ts - p.last_ts > self.max_gap_s]
        for pid in gone:
            self._drop(pid)
        return gone

    def _drop(self, pid: int) -> None:
        del self._people[pid]
        for raw in [r for r, p in self._raw_to_person.items() if p == pid]:
            del self._raw_to_person[raw]

    def finish(self) -> list[int]:
        gone = list(self._people)
        for pid in gone:
            self._drop(pid)
        return gone
