"""The device clock: its time zone and the guide's time formats.

All timestamps inside occusense are POSIX seconds (floats). For a video
file they are the run's start time plus the media time, so an hour of
footage produces its hourly reports in seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


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
