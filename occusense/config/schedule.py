"""Weekly detection schedules (SPEC P6) and scheduled resets (SPEC R8)."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from occusense.config.base import StrictModel

WEEKDAYS = (
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
)
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def minutes_of(hhmm: str) -> int:
    """``"HH:MM"`` -> minutes after midnight (``"24:00"`` -> 1440)."""
    m = _HHMM.match(hhmm)
    if not m:
        raise ValueError(f"time {hhmm!r} is not HH:MM (00:00 to 24:00)")
    value = int(m.group(1)) * 60 + int(m.group(2))
    if value > 24 * 60:
        raise ValueError(f"time {hhmm!r} is after 24:00")
    return value


class Period(StrictModel):
    """One detection period of a day, ``start`` to ``end`` (``00:00-00:00`` = unused)."""

    start: str = Field("00:00", description="HH:MM")
    end: str = Field("00:00", description="HH:MM, 24:00 for midnight at the end")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        s, e = minutes_of(self.start), minutes_of(self.end)
        if e < s:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def span(self) -> tuple[int, int]:
        return minutes_of(self.start), minutes_of(self.end)


def _all_day() -> list[Period]:
    return [Period(start="00:00", end="24:00"), Period(), Period()]


class DaySchedule(StrictModel):
    """A weekday: enabled or not, up to 3 periods."""

    enabled: bool = True
    periods: Annotated[list[Period], Field(max_length=3)] = Field(default_factory=_all_day)

    @field_validator("periods")
    @classmethod
    def _no_overlap(cls, periods: list[Period]) -> list[Period]:
        used = sorted(p.span for p in periods if p.span[0] != p.span[1])
        for (_, end), (start, _) in itertools.pairwise(used):
            if start < end:
                raise ValueError("periods of a day overlap")
        return periods


class Schedule(StrictModel):
    """A week of detection periods; the default is always on."""

    sunday: DaySchedule = Field(default_factory=DaySchedule)
    monday: DaySchedule = Field(default_factory=DaySchedule)
    tuesday: DaySchedule = Field(default_factory=DaySchedule)
    wednesday: DaySchedule = Field(default_factory=DaySchedule)
    thursday: DaySchedule = Field(default_factory=DaySchedule)
    friday: DaySchedule = Field(default_factory=DaySchedule)
    saturday: DaySchedule = Field(default_factory=DaySchedule)

    def day(self, name: str) -> DaySchedule:
        return getattr(self, name)

    def copy_day_to_others(self, name: str) -> Schedule:
        """The guide's "Copy to Other Days": every day gets ``name``'s periods."""
        source = self.day(name)
        return Schedule(**{d: source.model_copy(deep=True) for d in WEEKDAYS})

    def is_active(self, when: datetime) -> bool:
        """Whether local time ``when`` falls inside a period of its weekday."""
        day = self.day(WEEKDAYS[(when.weekday() + 1) % 7])
        if not day.enabled:
            return False
        minute = when.hour * 60 + when.minute
        return any(s <= minute < e for s, e in (p.span for p in day.periods))


class ResetDay(StrEnum):
    everyday = "everyday"
    sunday = "sunday"
    monday = "monday"
    tuesday = "tuesday"
    wednesday = "wednesday"
    thursday = "thursday"
    friday = "friday"
    saturday = "saturday"


class ResetSchedule(StrictModel):
    """Reset cumulative counts on schedule (SPEC R8)."""

    enabled: bool = False
    day: ResetDay = ResetDay.everyday
    hour: int = Field(0, ge=0, le=23)
    minute: int = Field(0, ge=0, le=59)
