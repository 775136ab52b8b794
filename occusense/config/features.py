"""Counting features: regions (R), line (L), flow (F), privacy masks (P4)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from occusense.config.base import (
    RelPoint,
    StrictModel,
    check_convex_flow_area,
    check_polygon_list,
    check_polyline,
    check_simple_polygon,
)
from occusense.config.reporting import ReportSettings
from occusense.config.schedule import ResetSchedule, Schedule

MAX_REGIONS = 16
MAX_MASKS = 8
MAX_LINE_SEGMENTS = 4


class AreaMode(StrEnum):
    """R2: count people inside the regions, or only people outside all of them."""

    mapped = "mapped"
    non_mapped = "non_mapped"


class ReportingType(StrEnum):
    """R3: 0/1 per mapped region, or people per mapped region."""

    occupancy = "occupancy"
    region_people_counting = "region_people_counting"


class AlarmTrigger(StrEnum):
    total_number = "total_number"
    number_in_area = "number_in_area"


class Region(StrictModel):
    """A polygon detection region, numbered by its place in the list (1..16)."""

    name: str = Field("", max_length=64, description="left out = \"region N\"")
    points: list[RelPoint]

    @field_validator("points")
    @classmethod
    def _polygon(cls, points: list[RelPoint]) -> list[RelPoint]:
        return check_simple_polygon(points, "region")

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        """A name given is shown in the GUI and sent to Home Assistant: not blank."""
        if not name.strip():
            raise ValueError("a region's name cannot be blank; leave it out to get \"region N\"")
        return name.strip()


class DwellSettings(StrictModel):
    """R6 dwell time detection."""

    enabled: bool = False
    min_dwell_s: int = Field(2, ge=1, le=3600)
    max_dwell_s: int = Field(
        0, ge=0, le=65535, description="0 = off; longer stays (staff at desks) are not dwells"
    )
    long_stay_s: int = Field(
        0, ge=0, le=86400, description="say when a stay has lasted this long, while it goes "
        "on (a \"Long Stay\" event for automations); 0 = off")

    @model_validator(mode="after")
    def _order(self) -> DwellSettings:
        if self.max_dwell_s and self.max_dwell_s < self.min_dwell_s:
            raise ValueError("max_dwell_s must be 0 (off) or at least min_dwell_s")
        return self


class OvercrowdingAlarm(StrictModel):
    """R7: drive the digital output while people exceed a threshold."""

    enabled: bool = False
    trigger: AlarmTrigger = AlarmTrigger.total_number
    threshold: int = Field(10, ge=1, le=100)


class RegionCounting(StrictModel):
    """Region people counting (SPEC R1-R8)."""

    enabled: bool = True
    customize_area: bool = Field(False, description="off = the whole frame is the detection area")
    area_mode: AreaMode = AreaMode.mapped
    reporting_type: ReportingType = ReportingType.region_people_counting
    regions: Annotated[list[Region], Field(max_length=MAX_REGIONS)] = Field(default_factory=list)
    debounce_s: float = Field(2.0, ge=0.0, le=60.0)
    dwell: DwellSettings = Field(default_factory=DwellSettings)
    dwell_trigger_enabled: bool = True
    overcrowding: OvercrowdingAlarm = Field(default_factory=OvercrowdingAlarm)
    reset: ResetSchedule = Field(default_factory=ResetSchedule)
    report: ReportSettings = Field(default_factory=ReportSettings)
    schedule: Schedule = Field(default_factory=Schedule)

    @field_validator("regions", mode="before")
    @classmethod
    def _at_most_16(cls, regions: object) -> object:
        return check_polygon_list(regions, MAX_REGIONS, "regions")

    @field_validator("regions")
    @classmethod
    def _numbered(cls, regions: list[Region]) -> list[Region]:
        """A region drawn without a name is called by its number."""
        for number, region in enumerate(regions, 1):
            if "name" not in region.model_fields_set:
                region.name = f"region {number}"
        return regions


class DetectionLine(StrictModel):
    """L1: one polyline of 1-4 segments; its arrow (In) points left of travel."""

    points: list[RelPoint] = Field(default_factory=list)

    @field_validator("points")
    @classmethod
    def _polyline(cls, points: list[RelPoint]) -> list[RelPoint]:
        return check_polyline(points, MAX_LINE_SEGMENTS) if points else points


class LineCrossing(StrictModel):
    """Line crossing counting (SPEC L1-L6)."""

    enabled: bool = False
    line: DetectionLine = Field(default_factory=DetectionLine)
    uturn_filter: bool = False
    uturn_area: list[RelPoint] = Field(default_factory=list)
    staff_filter: bool = False
    staff_window_s: float = Field(8.0, gt=0, le=60)
    reset: ResetSchedule = Field(default_factory=ResetSchedule)
    report: ReportSettings = Field(default_factory=ReportSettings)
    schedule: Schedule = Field(default_factory=Schedule)

    @field_validator("uturn_area")
    @classmethod
    def _area(cls, points: list[RelPoint]) -> list[RelPoint]:
        return check_simple_polygon(points, "U-turn area") if points else points

    @model_validator(mode="after")
    def _needs_line(self) -> LineCrossing:
        if self.enabled and not self.line.points:
            raise ValueError("line crossing is enabled but no line is drawn")
        if self.uturn_filter and not self.uturn_area:
            raise ValueError("U-turn filter is enabled but no U-turn area is drawn")
        return self


class PeopleFlow(StrictModel):
    """People flow analysis (SPEC F1-F2)."""

    enabled: bool = False
    area: list[RelPoint] = Field(default_factory=list)
    edge_names: list[str] = Field(default_factory=lambda: ["A", "B", "C", "D"])
    report: ReportSettings = Field(default_factory=ReportSettings)
    schedule: Schedule = Field(default_factory=Schedule)

    @field_validator("area")
    @classmethod
    def _shape(cls, points: list[RelPoint]) -> list[RelPoint]:
        return check_convex_flow_area(points) if points else points

    @field_validator("edge_names")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        if len(names) != 4 or any(not n.strip() or len(n) > 4 for n in names):
            raise ValueError("give 4 edge names of 1 to 4 characters")
        if len(set(names)) != 4:
            raise ValueError("edge names must differ")
        return names

    @model_validator(mode="after")
    def _needs_area(self) -> PeopleFlow:
        if self.enabled and not self.area:
            raise ValueError("people flow is enabled but no area is drawn")
        return self

    @property
    def active_edge_names(self) -> list[str]:
        return self.edge_names[: len(self.area)]


class MaskColour(StrEnum):
    white = "white"
    black = "black"


class PrivacyMask(StrictModel):
    name: str = ""
    enabled: bool = True
    points: list[RelPoint] = Field(json_schema_extra={"minItems": 3})

    @field_validator("points")
    @classmethod
    def _polygon(cls, points: list[RelPoint]) -> list[RelPoint]:
        return check_simple_polygon(points, "privacy mask")


class SpaceDirection(StrEnum):
    in_enters = "in_enters"  # the line's In is people entering the space
    in_leaves = "in_leaves"  # the line's In is people leaving it


class SensorSpace(StrictModel):
    """The sensor's own space (issue 29): the people inside the room or shop
    whose door its line watches, entries minus exits, never below 0."""

    enabled: bool = False
    name: str = Field("", max_length=64, description="shown in the GUI; empty = the device's")
    direction: SpaceDirection = Field(SpaceDirection.in_enters,
                                      description="whether the line's In enters or leaves")
    capacity: int = Field(0, ge=0, le=100000, description="more is overcrowded; 0 = no limit")
    reset: ResetSchedule = Field(default_factory=ResetSchedule)


class PrivacyMasks(StrictModel):
    """P4: up to 8 masks; masked pixels are never shown nor counted."""

    enabled: bool = False
    colour: MaskColour = MaskColour.black
    masks: Annotated[list[PrivacyMask], Field(max_length=MAX_MASKS)] = Field(default_factory=list)

    @field_validator("masks", mode="before")
    @classmethod
    def _at_most_8(cls, masks: object) -> object:
        return check_polygon_list(masks, MAX_MASKS, "privacy masks")
