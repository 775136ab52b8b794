"""What the OpenAPI descriptions say beyond FastAPI's defaults: every error
answer the API gives (so a client generated from the description handles
them), the content types of bodies read by hand, and a site's description
with each camera's API under ``/api/cameras/{camera}/``."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    """An error answer: what is wrong, in words (or FastAPI's list of
    request validation errors)."""

    detail: str | list[dict[str, Any]]


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "model": Problem}


# answers any API route may give (the guard, CSRF, body limit, throttling)
API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("a body that is not JSON (or YAML), or a value out of place"),
    401: _error("no session or API token"),
    403: _error("missing or wrong CSRF token, or not allowed in this privacy mode"),
    404: _error("no such section, camera, feature or file"),
    413: _error("a body over 2 MiB"),
    422: _error("a value breaks a rule of the configuration (the message names it)"),
    409: _error("not possible now (already activated, no frame yet, the camera exists)"),
    429: _error("too many failed logins from this address"),
    507: _error("the state folder is full or read-only"),
}

JSON_OR_YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {}},
            "application/yaml": {"schema": {}},
        },
    },
}


# a query's moment: unix seconds (up to the year 2286) or an ISO date, or date
# and time, of the years 1970-2999 (what parse_when accepts)
MOMENT = (r"^(\d{1,10}(\.\d{1,6})?|(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
          r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-](0\d|1[0-4]):[0-5]\d)?)?)$")
# a day of the History page and /api/utilisation (empty: today)
DAY = r"^((19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))?$"
# described, not enforced by FastAPI: the routes refuse other values in
# words (a regular expression is no answer for a person)
MOMENT_SCHEMA = {"pattern": MOMENT}
DAY_SCHEMA = {"pattern": DAY}


def one_of(values: list[str]) -> dict[str, Any]:
    """``json_schema_extra`` of a path or query parameter that takes one of
    ``values`` (the route answers 404 to others)."""
    return {"enum": list(values)}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads a JSON body itself."""
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}}}


def camera_paths(site: dict[str, Any], camera_api: dict[str, Any]) -> dict[str, Any]:
    """``site``'s description with each path ``/api/X`` of a camera's API as
    ``/api/cameras/{camera}/X`` (a ``camera`` path parameter added)."""
    merged = copy.deepcopy(site)
    parameter = {"name": "camera", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"},
                 "description": "the camera's id (its file's name in cameras/)"}
    for path, operations in camera_api.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        target = "/api/cameras/{camera}/" + path.removeprefix("/api/")
        copied = copy.deepcopy(operations)
        for operation in copied.values():
            operation["parameters"] = [parameter, *operation.get("parameters", [])]
            operation["operationId"] = "camera_" + operation.get("operationId", path)
            operation["tags"] = ["camera: " + t for t in operation.get("tags", [])]
        merged["paths"][target] = copied
    schemas = merged.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in camera_api.get("components", {}).get("schemas", {}).items():
        schemas.setdefault(name, schema)
    return merged


def config_sections(description: dict[str, Any], config_schema: dict[str, Any],
                    sections: list[str]) -> dict[str, Any]:
    """``description`` with ``/api/config/{section}`` described section by
    section: ``/api/config/<section>`` with that section's own JSON schema as
    the body of PUT and the answer of GET, so that what the description calls
    valid is what the validation accepts, key by key (one generic body would
    call any object valid, and the model refuses unknown keys).

    Args:
        config_schema: the configuration model's JSON schema, its definitions
            referenced as ``#/components/schemas/<model>``.
        sections: the sections the API serves.
    """
    out = copy.deepcopy(description)
    generic = out["paths"].pop("/api/config/{section}", None)
    if generic is None:
        return out
    config_schema = _as_answered(copy.deepcopy(config_schema))
    schemas = out.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in config_schema.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for section in sections:
        body = config_schema["properties"][section]
        operations = copy.deepcopy(generic)
        if section in NOT_OVER_THE_NETWORK:
            operations.pop("put", None)
        for method, operation in operations.items():
            operation["parameters"] = [p for p in operation.get("parameters", [])
                                       if p.get("name") != "section"]
            operation["operationId"] = f"{operation.get('operationId', method)}_{section}"
            if method == "put":
                operation["requestBody"]["content"] = {
                    kind: {"schema": body} for kind in ("application/json", "application/yaml")}
            answer = operation.get("responses", {}).get("200", {})
            answer["content"] = {"application/json": {"schema": body}}
        out["paths"][f"/api/config/{section}"] = operations
    return out


# sections the API shows but never changes: the state folder is set in the
# config file, the privacy mode at activation (P5)
NOT_OVER_THE_NETWORK = ("state_dir", "privacy_mode")
# what the model refuses in any text: C0 controls but tab and line breaks, DEL
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def _as_answered(schema: Any) -> Any:
    """The model's JSON schema as the API takes and gives it: every free text
    refuses control characters (as the validation does), and secrets are
    answered masked (``**********``), so they are not write-only."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not {"pattern", "enum", "const"} & set(schema):
            schema["pattern"] = TEXT
        schema.pop("writeOnly", None)
        for value in schema.values():
            _as_answered(value)
    elif isinstance(schema, list):
        for value in schema:
            _as_answered(value)
    return schema


# a space's occupancy set by hand (``PUT /api/space``, ``PUT /api/spaces/{space}``)
OCCUPANCY_BODY = {"type": "object", "required": ["occupancy"],
                  "properties": {"occupancy": {"type": "integer", "minimum": 0,
                                               "maximum": 1_000_000}}}


def model_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A model's JSON schema as the API takes it (see :func:`_as_answered`)
    and its definitions, to be added to ``components/schemas``."""
    schema = _as_answered(model.model_json_schema(ref_template="#/components/schemas/{model}"))
    return schema, schema.pop("$defs", {})
