"""HTML forms generated from the configuration model (SPEC G5).

Every setting gets an input of its type — a checkbox, a choice list, a
number with the model's range, a text or password field — labelled with its
description; nested sections become fieldsets. Because the forms come from
the same pydantic model as the API, the CLI and the config file, a new
setting appears in the GUI by itself and is validated the same way.
Shapes and other lists are edited as JSON (or drawn on the Draw page).
"""

from __future__ import annotations

import json
import types
import typing
from enum import Enum
from html import escape
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from occusense.config.io import PLACEHOLDER as SECRET
from occusense.documents import DocumentError, load_json


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner type, optional?) of ``X | None`` and ``Annotated[X, ...]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            inner, _ = _unwrap(args[0])
            return inner, True
    return annotation, False


def _choices(kind: Any) -> list[str] | None:
    if isinstance(kind, type) and issubclass(kind, Enum):
        return [str(m.value) for m in kind]
    if typing.get_origin(kind) is Literal:
        return [str(a) for a in typing.get_args(kind)]
    return None


def _bounds(info: FieldInfo) -> str:
    attrs = []
    for meta in info.metadata:
        for name, attr in (("ge", "min"), ("gt", "min"), ("le", "max"), ("lt", "max")):
            value = getattr(meta, name, None)
            if value is not None:
                attrs.append(f'{attr}="{value}"')
    return " ".join(attrs)


def _model_list(kind: Any) -> type[BaseModel] | None:
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind) or (None,)
        item, _ = _unwrap(item)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


# words the settings' names abbreviate, and units their suffixes stand for
WORDS = {
    "uri": "URI", "url": "URL", "http": "HTTP", "mqtt": "MQTT", "qos": "QoS", "ip": "IP",
    "mac": "MAC", "rtsp": "RTSP", "dio": "DI/DO", "di": "DI", "do": "DO", "ca": "CA",
    "tls": "TLS", "d2d": "D2D", "lorawan": "LoRaWAN", "adr": "ADR", "dev": "device",
    "eui": "EUI", "fov": "field of view", "jsonl": "JSON Lines", "uturn": "U-turn",
    "io": "I/O", "id": "ID", "max": "maximum", "min": "minimum",
    "ms": "", "s": "", "deg": "", "m": "", "px": "", "nonzero": "non-zero", "utc": "UTC",
    "gpio": "GPIO", "api": "API", "hz": "", "kbps": "", "mb": "", "dscp": "DSCP", "rtp": "RTP",
    "sn": "SN",
}
UNITS = {"s": "s", "ms": "ms", "deg": "°", "m": "m", "px": "px", "hz": "Hz", "kbps": "kbit/s",
         "mb": "MB"}
CHOICES = {
    "zero_nonzero": "zero / non-zero changes", "every_change": "every change",
    "from_now_on": "from now on", "on_the_dot": "on the dot", "ca_signed": "CA-signed",
    "self_signed": "self-signed (own CA)", "algorithm_1": "Algorithm 1 (cluttered offices)",
    "algorithm_2": "Algorithm 2 (clean rooms)", "auto": "automatic",
    "own": "its own (below)", "region_counting": "same as region counting",
    "line_crossing": "same as line crossing", "people_flow": "same as people flow",
}


# settings whose name the rule below would garble or make ambiguous
LABELS = {
    "app_key": "App key (AppKey)", "app_s_key": "App session key (AppSKey)",
    "nwk_s_key": "Network session key (NwkSKey)", "dev_eui": "Device EUI (DevEUI)",
    "app_eui": "App EUI (JoinEUI)", "dev_addr": "Device address (DevAddr)",
    "adr": "Adaptive data rate (ADR)", "rx2_frequency_hz": "Second receive window: frequency (Hz)",
    "rx2_data_rate": "Second receive window: data rate", "channel_masks": "Channels in use",
    "tx_power": "Transmit power", "gateway_eui": "Gateway EUI",
}


def human(name: str) -> str:
    """A setting's name in words with its unit: ``interval_s`` -> ``Interval (s)``."""
    if name in LABELS:
        return LABELS[name]
    words = name.split("_")
    unit = UNITS.get(words[-1]) if len(words) > 1 else None
    text = " ".join(w for w in (WORDS.get(w, w) for w in words) if w)
    text = text[:1].upper() + text[1:]
    return f"{text} ({unit})" if unit else text


def human_choice(value: str) -> str:
    return CHOICES.get(value, value.replace("_", " "))


def render(
    model: type[BaseModel], data: dict[str, Any], prefix: str, skip: frozenset[str] = frozenset(),
    errors: dict[str, str] | None = None,
) -> str:
    """The inputs of ``model`` filled with ``data``; names are dotted paths.
    Fields named in ``skip`` are left out (a page that edits them otherwise:
    shapes on the drawing, schedules on the weekly grid); saving the form
    leaves them as they are. ``errors`` (dotted path -> words) are shown
    next to their fields."""
    errors = errors or {}
    parts = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        path = f"{prefix}.{name}"
        kind, optional = _unwrap(info.annotation)
        value = data.get(name)
        label = escape(human(name))
        hint = (f' <small class="muted">{escape(info.description)}</small>'
                if info.description else "")
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            inner = frozenset(s.split(".", 1)[1] for s in skip if s.startswith(f"{name}."))
            parts.append(f'<fieldset data-field="{escape(name)}"><legend>{label}</legend>'
                         f"{render(kind, value or {}, path, inner, errors)}</fieldset>")
            continue
        items = _model_list(kind)
        if items is not None and isinstance(value, list) and name in ("http", "periods"):
            rows = "".join(f'<fieldset data-field="{escape(name)}"><legend>{label} {i + 1}</legend>'
                           f"{render(items, item, f'{path}.{i}', errors=errors)}</fieldset>"
                           for i, item in enumerate(value))
            parts.append(rows)
            continue
        control = _input(path, kind, optional, info, value)
        problem = errors.get(path)
        if problem:  # said next to the field, and the field marked for screen readers
            control = control.replace(f'name="{escape(path)}"',
                                      f'name="{escape(path)}" aria-invalid="true"', 1)
            hint = (f' <strong class="field-error">{escape(label)} {escape(problem)}</strong>'
                    + hint)
        parts.append(f'<label data-field="{escape(name)}">{label} {control}{hint}</label>')
    return "\n".join(parts)


def describe_recipients(report: Any, shared_from: str = "") -> str:
    """Where a feature's reports go, in a few words (its resolved
    :class:`~occusense.config.reporting.ReportSettings`)."""
    protocol = report.protocol.value
    if protocol in ("mqtt", "mqtts") and report.mqtt.host:
        where = (f"{protocol.upper()} {report.mqtt.host}:{report.mqtt.port}, "
                 f"topic {report.mqtt.topic}")
    elif protocol == "http":
        urls = [r.url for r in report.http if r.enabled and r.url]
        where = ("HTTP " + ", ".join(urls)) if urls else "HTTP, but no URL is switched on"
    elif protocol in ("mqtt", "mqtts"):
        where = f"{protocol.upper()}, but no broker host is set"
    else:
        where = "the console and the report file only"
    return where + (f" (the recipients of {human(shared_from).lower()})" if shared_from else "")


def _input(path: str, kind: Any, optional: bool, info: FieldInfo, value: Any) -> str:
    name = escape(path)
    choices = _choices(kind)
    if kind is bool and not optional:
        checked = " checked" if value else ""
        return (f'<input type="hidden" name="{name}" value="false">'
                f'<input type="checkbox" name="{name}" value="true"{checked}>')
    if choices is not None:
        options = "".join(
            f'<option value="{escape(c)}"{" selected" if str(value) == c else ""}>'
            f'{escape(human_choice(c))}</option>'
            for c in choices)
        empty = "<option value=\"\">(automatic)</option>" if optional else ""
        return f'<select name="{name}">{empty}{options}</select>'
    if kind in (int, float):
        step = "1" if kind is int else "any"
        shown = "" if value is None else escape(str(value))
        return f'<input type="number" name="{name}" step="{step}" {_bounds(info)} value="{shown}">'
    if kind is SecretStr:
        # never shown; an empty box keeps the secret (set means "**********" in the data)
        hint = "set: type to replace, leave empty to keep" if value else "not set"
        return (f'<input type="password" name="{name}" value="" placeholder="{hint}" '
                'autocomplete="new-password">')
    if kind is str:
        return f'<input name="{name}" value="{escape(str(value or ""))}">'
    if isinstance(value, list | dict) and value:  # shapes and lists: readable JSON
        text = json.dumps(value, indent=1)
        rows = min(12, text.count("\n") + 1)
        return (f'<textarea name="{name}" class="json" rows="{rows}" spellcheck="false">'
                f"{escape(text)}</textarea>")
    shown = "" if value is None else escape(json.dumps(value))
    return f'<input name="{name}" class="json" value="{shown}" spellcheck="false">'


def parse(model: type[BaseModel], form: dict[str, list[str]], prefix: str) -> dict[str, Any]:
    """Form fields named by :func:`render` -> a nested dict for the model."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}"
        kind, optional = _unwrap(info.annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out[name] = parse(kind, form, path)
            continue
        items = _model_list(kind)
        if items is not None and name in ("http", "periods"):
            count = len({k.split(".")[len(path.split("."))] for k in form
                         if k.startswith(path + ".")})
            if count:  # a form without this list (the schedule grid) leaves it alone
                out[name] = [parse(items, form, f"{path}.{i}") for i in range(count)]
            continue
        if path not in form:
            continue
        out[name] = _convert(form[path], kind, optional)
    return out


def _convert(values: list[str], kind: Any, optional: bool) -> Any:
    raw = values[-1]  # a checked box comes after its hidden "false"
    if kind is bool and not optional:
        return raw == "true"
    if optional and raw == "":
        return None
    if kind is SecretStr:
        return raw or SECRET  # empty: keep the secret as it is
    if _choices(kind) is not None or kind is str:
        return raw
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            return raw  # let the model say what is wrong
    try:
        return load_json(raw, "field")
    except DocumentError:
        return raw  # let the model say what is wrong
