"""Writes docs/config-reference.md from the configuration model itself.

.venv/bin/python tools/gen_config_docs.py [OUT.md]
"""

from __future__ import annotations

import sys
import typing
from enum import Enum
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from occusense.config.model import DeviceConfig

OUT = Path(__file__).resolve().parents[1] / "docs" / "config-reference.md"


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(str(m.value) for m in annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (list, tuple):
        return "list"
    if origin is not None and type(None) in typing.get_args(annotation):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _type_name(inner[0]) + " or null"
    return getattr(annotation, "__name__", str(annotation))


def _range(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        for attr, sign in (
            ("ge", ">="),
            ("gt", ">"),
            ("le", "<="),
            ("lt", "<"),
            ("max_length", "at most"),
        ):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()
        return "(section)" if isinstance(value, BaseModel) else f"`{value!r}`"[:60]
    value = info.default
    if isinstance(value, Enum):
        value = value.value
    return f"`{value!r}`"


def rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = info.annotation
        nested = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
        if nested is not None:
            out += rows(nested, path + ".")
            continue
        desc = (info.description or "").replace("|", "\\|")
        out.append(
            f"| `{path}` | {_type_name(annotation)} | {_default(info)} | {_range(info)} | {desc} |"
        )
    return out


def render() -> str:
    head = [
        "# Configuration reference",
        "",
        "Generated from `occusense.config.DeviceConfig` by `tools/gen_config_docs.py`;",
        "every key, its type, default and range. Shapes (`points`, `area`) are lists of",
        "`[x, y]` in 0..1 of the frame width and height.",
        "",
        "| key | type | default | range | notes |",
        "|---|---|---|---|---|",
    ]
    return "\n".join(head + rows(DeviceConfig)) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    target.write_text(render())
    print(f"wrote {target}")
