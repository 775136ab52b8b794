"""E2 periodic report schedules on the device clock."""

from __future__ import annotations

import math
from datetime import timedelta

from occusense.clock import DeviceClock
from occusense.config.reporting import PeriodicScheme


class PeriodicSchedule:
    """When periodic reports fall due (E2).

    From Now On: every ``interval_s`` from the start. On the Dot: at local
    clock times that are multiples of the interval counted from midnight
    (hourly at :00, every 10 minutes at :10, :20 ...); an interval that does
    not divide a day starts again at midnight.
    """

    def __init__(self, scheme: PeriodicScheme, interval_s: int, clock: DeviceClock):
        self.scheme = scheme
        self.interval_s = interval_s
        self.clock = clock

    def next_due(self, after: float) -> float:
        """The first due time strictly after ``after``."""
        if self.scheme is PeriodicScheme.from_now_on:
            return after + self.interval_s
        local = self.clock.local(after)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        since = (local - midnight).total_seconds()
        steps = math.floor(since / self.interval_s) + 1
        due = midnight + timedelta(seconds=steps * self.interval_s)
        next_midnight = (midnight + timedelta(days=1, hours=2)).replace(hour=0)
        return min(due, next_midnight).timestamp()
