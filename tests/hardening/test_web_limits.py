"""Issue 16 over real HTTP: imports and REST bodies are bounded and refused
with a clear status, and the sensor keeps its configuration."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from occusense.config import load_config
from occusense.web.app import create_app
from occusense.web.auth import hash_secret
from occusense.web.server import WebServer
from occusense.web.state import SensorState
from tests.conftest import REPO
from tests.web.conftest import PASSWORD


@pytest.fixture
def api(tmp_path) -> Iterator[tuple[httpx.Client, SensorState]]:
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.users.activated = True
    config.users.password_hash = hash_secret(PASSWORD)
    state = SensorState(config, tmp_path / "config.yaml")
    server = WebServer(create_app(state), "127.0.0.1", 0)
    with httpx.Client(base_url=server.url.rstrip("/"), timeout=30) as client:
        token = client.post("/api/token", data={"password": PASSWORD}).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, state
    server.stop()


def test_an_oversized_import_is_refused_before_it_is_read(api):
    client, state = api
    before = state.version
    region = b"  - points: [[0.1,0.1],[0.2,0.1],[0.2,0.2]]\n"
    body = b"region_counting:\n  regions:\n" + region * 60_000
    answer = client.post("/api/import", files={"file": ("big.yaml", body)})
    assert answer.status_code == 413
    assert "over the limit of 2097152" in answer.json()["detail"]
    assert state.version == before
    assert len(state.config.region_counting.regions) == 2


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"rec: &r [*r]\n", "import: alias *r refers to itself"),
        (b"source:\n  uri: \xff\n", "import: not UTF-8 text"),
        (("deep: " + "[" * 500 + "]" * 500).encode(), "import: nested over 32 levels deep"),
    ],
)
def test_a_bad_import_is_a_422_naming_the_problem(api, content, says):
    client, state = api
    answer = client.post("/api/import", files={"file": ("r.yaml", content)})
    assert answer.status_code == 422
    assert says in answer.json()["detail"]
    assert len(state.config.region_counting.regions) == 2


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"[1, 2]", 422, "section mounting: expected an object of settings"),
        (b"\"text\"", 422, "section mounting: expected an object of settings"),
        (b"[" * 10_000 + b"]" * 10_000, 400, "body: nested 10000 levels deep"),
        (b"{\"nadir\": [false, 0.5]}", 422, "mounting.nadir: "),
        (b"\xff", 400, "body: not UTF-8 text"),
    ],
)
def test_a_bad_rest_body_is_a_4xx_naming_the_problem(api, body, status, says):
    client, state = api
    answer = client.put("/api/config/mounting", content=body,
                        headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]
    assert state.config.mounting.nadir is None


def test_a_good_rest_body_still_applies(api):
    client, state = api
    answer = client.put("/api/config/mounting", json={"nadir": [0.5, 0.4]})
    assert answer.status_code == 200
    assert state.config.mounting.nadir == (0.5, 0.4)
