"""Load and save the configuration as YAML or JSON, with readable errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from occusense.config.model import DeviceConfig
from occusense.documents import MAX_BYTES, DocumentError, load_json, load_yaml
from occusense.errors import ConfigError
from occusense.files import write_atomic


def describe(error: ValidationError, origin: str) -> str:
    """One line per problem: ``field.path: rule`` (pydantic's own wording)."""
    lines = [f"{origin}: {error.error_count()} problem(s)"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


# pydantic's error types in a facility manager's words
PLAIN = {
    "int_parsing": "must be a whole number", "int_type": "must be a whole number",
    "int_from_float": "must be a whole number", "float_parsing": "must be a number",
    "float_type": "must be a number", "bool_parsing": "must be yes or no",
    "bool_type": "must be yes or no", "missing": "is required",
    "extra_forbidden": "is not a setting here", "string_type": "must be text",
    "list_type": "must be a list", "dict_type": "must be a group of settings",
}


def in_words(item: Any) -> str:
    """One validation problem as a sentence's end (``must be at most 65535``)."""
    kind, ctx = item["type"], item.get("ctx") or {}
    bounds = {"less_than_equal": "at most {le}", "greater_than_equal": "at least {ge}",
              "less_than": "less than {lt}", "greater_than": "more than {gt}",
              "too_short": "at least {min_length} long", "too_long": "at most {max_length} long",
              "string_too_short": "at least {min_length} characters long",
              "string_too_long": "at most {max_length} characters long"}
    if kind in bounds:
        text = bounds[kind].format(**ctx)
        if kind == "string_too_short" and ctx.get("min_length") == 1:
            return "must not be empty"
        return f"must be {text}"
    if kind in ("enum", "literal_error") and "expected" in ctx:
        return f"must be one of {ctx['expected']}"
    if kind in PLAIN:
        return PLAIN[kind]
    return str(item["msg"]).removeprefix("Value error, ")


def problems_of(error: ValidationError) -> list[tuple[str, str]]:
    """Each problem's dotted field path and what is wrong, in words."""
    return [(".".join(str(p) for p in item["loc"]), in_words(item)) for item in error.errors()]


def parse_config(data: Any, origin: str = "config") -> DeviceConfig:
    """Validate a mapping into a :class:`DeviceConfig` or raise :class:`ConfigError`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of sections")
    try:
        return DeviceConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, origin), problems_of(exc)) from None


PLACEHOLDER = "**********"  # how pydantic, and so an export without secrets, shows a secret


def placeholders(data: Any, where: str = "") -> list[str]:
    """Fields of ``data`` whose value is the export's secret placeholder
    (``data`` comes bounded in depth from :mod:`occusense.documents`)."""
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in placeholders(v, f"{where}{k}.")]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in placeholders(v, f"{where}{i}.")]
    return [where.rstrip(".")] if data == PLACEHOLDER else []


def load_config(path: str | Path, prepare: Callable[[Any], Any] | None = None) -> DeviceConfig:
    """Read a ``.yaml``/``.yml``/``.json`` file; raise :class:`ConfigError` if
    bad. ``prepare`` may fill in defaults of the decoded data first."""
    path = Path(path)
    raw = read_bounded(path)
    return read_document(raw, str(path), as_json=path.suffix == ".json", prepare=prepare)


def read_document(raw: bytes | str, origin: str, as_json: bool = False,
                  prepare: Callable[[Any], Any] | None = None) -> DeviceConfig:
    """A config document (YAML, or JSON) from outside, within the size limits
    of :mod:`occusense.documents`; raise :class:`ConfigError` naming the problem."""
    try:
        data = load_json(raw, origin) if as_json else load_yaml(raw, origin)
    except DocumentError as exc:
        raise ConfigError(str(exc)) from None
    if hidden := placeholders(data):
        # an export without secrets: its "**********" would become the password
        raise ConfigError(
            f"{origin}: {', '.join(hidden)}: {PLACEHOLDER} is the placeholder of an export "
            "without secrets; put the real value, or remove the field"
        )
    return parse_config(prepare(data) if prepare else data, origin)


def read_bounded(path: Path) -> bytes:
    """The file's bytes, refused unread when larger than a document may be."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than the limit of {MAX_BYTES} bytes for a config")
    return raw


def config_to_dict(config: DeviceConfig, include_secrets: bool = False) -> dict[str, Any]:
    """Plain data for export; secrets and password hashes only when asked."""
    data = config.model_dump(mode="json")
    if include_secrets:
        _reveal(config, data)
    else:
        data["users"].pop("password_hash", None)
        for question in data["users"].get("security_questions", []):
            question.pop("answer_hash", None)
    return data


def _reveal(model: Any, data: dict[str, Any]) -> None:
    """Replace pydantic's ``**********`` placeholders by the real secrets."""
    from pydantic import BaseModel, SecretStr

    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
        elif isinstance(value, BaseModel):
            _reveal(value, data[name])
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _reveal(item, data[name][i])


def save_config(config: DeviceConfig, path: str | Path) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    path = Path(path)
    data = config_to_dict(config, include_secrets=True)
    text = (
        json.dumps(data, indent=2)
        if path.suffix == ".json"
        else yaml.safe_dump(data, sort_keys=False)
    )
    write_atomic(path, text)
