"""Report time: the device's time zone, the guide's formats, and E2 schedules.

All timestamps inside occusense are POSIX seconds (floats). For a video
file they are the run's start time plus the media time, so an hour of
footage produces its hourly reports in seconds.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from occusense.config.reporting import PeriodicScheme


class DeviceClock:
    """Formats instants the way the VS121-P reports them (E1 time_info).

    Example:
        >>> clock = DeviceClock("Asia/Shanghai")
        >>> clock.local_text(0.0), clock.utc_offset_label(0.0)
        ('1970/01/01 08:00:00', 'UTC+8:00')
    """

    def __init__(self, timezone: str = "UTC") -> None:
        self.zone = ZoneInfo(timezone)

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, tz=UTC).astimezone(self.zone)

    def local_text(self, ts: float) -> str:
        """``YYYY/MM/DD HH:MM:SS`` in local time."""
        return self.local(ts).strftime("%Y/%m/%d %H:%M:%S")

    def iso(self, ts: float) -> str:
        """ISO 8601 with offset, as in dwell trigger reports."""
        return self.local(ts).isoformat(timespec="seconds")

    def utc_offset_label(self, ts: float) -> str:
        """``UTC+8:00``, ``UTC-5:30``, ``UTC+0:00``."""
        offset = self.local(ts).utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        hours, mins = divmod(abs(minutes), 60)
        return f"UTC{sign}{hours}:{mins:02d}"

    def dst(self, ts: float) -> bool:
        return bool(self.local(ts).dst())

    def interval_info(self, start: float, end: float) -> dict:
        return {
            "timezone": self.utc_offset_label(end),
            "dst_status": self.dst(end),
            "start_time": self.local_text(start),
            "end_time": self.local_text(end),
        }

    def trigger_info(self, ts: float) -> dict:
        return {
            "time": self.local_text(ts),
            "timezone": self.utc_offset_label(ts),
            "dst_status": self.dst(ts),
        }


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
