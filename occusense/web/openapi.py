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
