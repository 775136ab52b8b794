"""Issue 24: schemathesis over both OpenAPI descriptions (a sensor's, a
site's with its cameras' API) against the running servers, bounded to a few
examples an operation: no 5xx and no answer outside the description."""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.fleet.conftest import start_site, write_camera
from tests.web.conftest import PASSWORD
from tests.web.test_api import bearer

EXAMPLES = 8  # an operation
# operations that would change what the fuzzing runs against: a factory
# reset, a camera added or removed (each tested on its own elsewhere)
SKIPPED = {("POST", "/api/cameras"), ("DELETE", "/api/cameras/{camera}"),
           ("PUT", "/api/cameras/{camera}")}
# sections whose generated values could send traffic off this machine (a D2D
# broadcast, a LoRaWAN gateway, a broker or inference server named at random)
# or restart the source: not fuzzed (each has tests of its own)
OFF_MACHINE = {"d2d", "lorawan", "home_assistant", "detector", "source", "web", "rtsp",
               "digital_io", "region_counting", "line_crossing", "people_flow"}


# rules between values that no OpenAPI schema can state, each answered in
# words: a schema-valid request may meet them (every other refusal of a
# schema-valid request is a description looser than the validation)
RULES_NO_SCHEMA_STATES = (
    "from must be before to",
    "the current password is wrong",
    "crosses itself",  # a polygon's edges
    "has no area",
    "is outside the state directory",  # depends on where this sensor keeps its state
    "import: ",  # the imported file's content: a document of settings, not a multipart schema
    "give it the lines at its doors or the regions inside it",  # a space: one of the two
    "each space needs its own id",
)


@schemathesis.check
def accepts_what_it_describes(ctx, response, case) -> bool | None:
    """positive_data_acceptance, but for the rules above (by their words)."""
    if response.status_code in (400, 422) and any(
            rule in response.text for rule in RULES_NO_SCHEMA_STATES):
        return None
    return positive_data_acceptance(ctx, response, case)


# issue 34: a request valid by the description is accepted (the description
# is no looser than the validation), and an Allow header names what is served
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, accepts_what_it_describes, allow_header_conformance,
          unsupported_method]


def off_machine(path: str) -> bool:
    return any(path.endswith(f"/config/{section}") for section in OFF_MACHINE)


def fuzz(base: str, headers: dict[str, str]) -> list[str]:
    """Every operation of ``base``'s description, a few generated requests
    each; the failures in words."""
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    failures: list[str] = []
    operations = [op.ok() for op in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in SKIPPED
                  and not off_machine(op.path)]
    assert len(operations) >= 10, [op.path for op in operations]
    for operation in operations:
        strategy = operation.as_strategy()

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                  phases=[Phase.generate], database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case) -> None:
            try:
                case.call_and_validate(base_url=base, headers=headers, checks=CHECKS,
                                       timeout=20)
            except BaseException as exc:  # a FailureGroup of every check that failed
                failures.append(f"{case.method} {case.formatted_path}: {exc!r}"[:800])

        run()
    return failures


def test_the_sensor_api_answers_as_described(plain_sensor):
    state, base = plain_sensor
    with httpx.Client(timeout=30) as client:
        headers = bearer(client, state, base)
    before = state.config.privacy_mode
    failures = fuzz(base, headers)
    assert not failures, "\n".join(failures[:40])
    assert state.config.privacy_mode is before  # no request changed it
    assert client is not None


def test_the_site_api_answers_as_described(tmp_path):
    from occusense.web.auth import hash_secret

    root = tmp_path / "site"
    write_camera(root, "lobby")
    site, _ = start_site(root)
    assert site.web is not None
    site.web.account.save({"activated": True, "password_hash": hash_secret(PASSWORD)},
                          "test", "normal")
    base = site.url
    try:
        token = httpx.post(f"{base}/api/token", data={"password": PASSWORD},
                           timeout=30).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        described = httpx.get(f"{base}/api/openapi.json", timeout=30).json()["paths"]
        assert "/api/cameras/{camera}/status" in described
        assert "/api/cameras/{camera}/config/general" in described
        assert site.running("lobby", timeout=60)
        failures = fuzz(base, headers)
        assert not failures, "\n".join(failures[:40])
        assert site.service.cameras["lobby"].running
    finally:
        site.server.stop()  # type: ignore[attr-defined]
        site.service.stop()


def test_a_camera_path_names_its_camera():
    """The merged description is valid: every camera operation has the
    ``camera`` path parameter (schemathesis refuses it otherwise)."""
    from occusense.web.openapi import camera_paths

    site = {"paths": {"/api/cameras": {"get": {}}}}
    camera = {"paths": {"/api/status": {"get": {"operationId": "status", "tags": ["live"]}},
                        "/metrics": {"get": {}}}}
    merged = camera_paths(site, camera)
    assert set(merged["paths"]) == {"/api/cameras", "/api/cameras/{camera}/status"}
    operation = merged["paths"]["/api/cameras/{camera}/status"]["get"]
    assert operation["parameters"][0]["name"] == "camera"
    assert st is not None
