"""Building blocks of the configuration model: strict models and shapes.

Shapes are stored in relative coordinates (0..1 of the frame width and
height), as frigate does for zones, so that regions and lines survive a
change of camera resolution; the analytics turn them into pixels.
"""

from __future__ import annotations

import itertools
import re
import typing
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from shapely.geometry import LineString, Polygon

RelCoord = Annotated[float, Field(ge=0.0, le=1.0)]
RelPoint = tuple[RelCoord, RelCoord]


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """A boolean is not a number: pydantic's lax mode reads ``true`` as 1,
        so a coordinate or interval given ``false`` would be accepted as 0."""
        if info.field_name and _holds_bool(value):
            annotation: Any = cls.model_fields[info.field_name].annotation
            if not _allows_bool(annotation):
                raise ValueError(f"true/false is not valid here, got {value!r}")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        """No NUL or other control character in a text: they cut strings short
        in C libraries (a host name, a topic) and corrupt logs and files."""
        for text in _texts(value):
            bad = CONTROL.search(text)
            if bad:
                raise ValueError(f"control character U+{ord(bad.group()):04X} is not allowed "
                                 f"in a text setting")
        return value


# C0 controls and DEL, but tab and line breaks (a PEM, a multi-line note)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _texts(value: Any) -> list[str]:
    """The strings of a value, or of a list of values."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts(v)]
    return []


def _holds_bool(value: Any) -> bool:
    """``value`` is a boolean, or a list/tuple holding one (a point's coordinate)."""
    if isinstance(value, bool):
        return True
    return isinstance(value, list | tuple) and any(_holds_bool(v) for v in value)


@cache
def _allows_bool(annotation: Any) -> bool:
    """The field's type takes a boolean somewhere (``bool``, ``bool | None``, Any)."""
    if annotation is bool or annotation is Any:
        return True
    return any(_allows_bool(arg) for arg in typing.get_args(annotation) if _hashable(arg))


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def check_simple_polygon(points: list[RelPoint], what: str) -> list[RelPoint]:
    """Reject polygons with fewer than 3 points, no area or crossing edges."""
    if len(points) < 3:
        raise ValueError(f"{what} needs at least 3 points, got {len(points)}")
    shape = Polygon(points)
    if shape.area <= 0:
        raise ValueError(f"{what} has no area (its points are on one line)")
    if not shape.is_valid:
        raise ValueError(f"{what} crosses itself; draw its edges without crossings")
    return points


def check_convex_flow_area(points: list[RelPoint]) -> list[RelPoint]:
    """A flow area is a triangle or a convex quadrangle (SPEC F1)."""
    if len(points) not in (3, 4):
        raise ValueError(
            f"flow area must be a triangle or a quadrangle (3 or 4 points), got {len(points)}"
        )
    check_simple_polygon(points, "flow area")
    shape = Polygon(points)
    if abs(shape.convex_hull.area - shape.area) > 1e-9:
        raise ValueError("flow area must be convex; move the inner corner outwards")
    return points


def check_polyline(points: list[RelPoint], max_segments: int) -> list[RelPoint]:
    """A detection line: 2 to ``max_segments + 1`` points, no zero-length segment."""
    if len(points) < 2:
        raise ValueError(f"a line needs at least 2 points, got {len(points)}")
    if len(points) - 1 > max_segments:
        raise ValueError(f"a line has at most {max_segments} segments, got {len(points) - 1}")
    for a, b in itertools.pairwise(points):
        if a == b:
            raise ValueError(f"line has a zero-length segment at {a}")
    if not LineString(points).is_simple:
        raise ValueError("line crosses itself")
    return points


def check_polygon_list(items: object, limit: int, what: str) -> object:
    """Say plainly when a list of shapes is over the guide's limit."""
    if isinstance(items, list) and len(items) > limit:
        raise ValueError(f"at most {limit} {what} can be drawn, got {len(items)}")
    return items
