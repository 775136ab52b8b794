"""G5/G9: every section of the configuration is validated by the API with a
message naming the field and the rule; nothing is changed by a bad value."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from occusense.config import DeviceConfig
from occusense.web.app import create_app
from occusense.web.auth import hash_secret
from occusense.web.server import WebServer
from occusense.web.state import SensorState
from tests.web.conftest import PASSWORD


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[tuple[SensorState, str, dict[str, str]]]:
    config = DeviceConfig()
    config.users.activated = True
    config.users.password_hash = hash_secret(PASSWORD)
    state = SensorState(config, tmp_path_factory.mktemp("api") / "config.yaml")
    server = WebServer(create_app(state), "127.0.0.1", 0)
    base = server.url.rstrip("/")
    token = httpx.post(f"{base}/api/token", data={"password": PASSWORD}).json()["token"]
    yield state, base, {"Authorization": f"Bearer {token}"}
    server.stop()


CASES = [
    ("device", {"name": ""}, "device.name", "at least 1 character"),
    ("time", {"timezone": "Atlantis/Capital"}, "time.timezone", "unknown time zone"),
    ("detector", {"threads": 0}, "detector.threads", "greater than or equal to 1"),
    ("detector", {"frame_stride": 11}, "detector.frame_stride", "less than or equal to 10"),
    ("general", {"location_push_port": 70000}, "general.location_push_port", "65535"),
    ("general", {"recognition_scheme": "algorithm_3"}, "general.recognition_scheme",
     "algorithm_1"),
    ("mounting", {"inner_radius": 0.9}, "mounting.inner_radius", "0.6"),
    ("region_counting", {"debounce_s": -1}, "region_counting.debounce_s", "greater than"),
    ("region_counting", {"overcrowding": {"threshold": 0}},
     "region_counting.overcrowding.threshold", "greater than or equal to 1"),
    ("region_counting", {"reset": {"hour": 24}}, "region_counting.reset.hour", "23"),
    ("region_counting", {"report": {"periodic_scheme": "hourly"}},
     "region_counting.report.periodic_scheme", "from_now_on"),
    ("line_crossing", {"staff_window_s": 0}, "line_crossing.staff_window_s", "greater than 0"),
    ("line_crossing", {"report": {"mqtt": {"qos": 3}}}, "line_crossing.report.mqtt.qos",
     "less than or equal to 2"),
    ("line_crossing", {"report": {"http": [{"url": "ftp://x"}, {}, {}]}},
     "line_crossing.report.http.0.url", "http:// or https://"),
    ("people_flow", {"edge_names": ["A", "A", "B", "C"]}, "people_flow.edge_names", "differ"),
    ("privacy_masks", {"masks": [{"points": [[0, 0], [0.1, 0], [0.1, 0.1]]}] * 9},
     "privacy_masks.masks", "at most 8"),
    ("web", {"port": 0}, "web.port", "greater than or equal to 1"),
    ("digital_io", {"backend": "serial"}, "digital_io.backend", "software"),
    ("lorawan", {"application_port": 0}, "lorawan.application_port", "greater than or equal"),
    ("lorawan", {"channel_masks": [70000, 0, 0, 0, 0, 0]}, "lorawan.channel_masks", "16 bits"),
    ("d2d", {"vacant_command": "xyz"}, "d2d.vacant_command", "4 hexadecimal"),
    ("source", {"reconnect_max_s": 0}, "source.reconnect_max_s", "greater than or equal to 1"),
]


@pytest.mark.parametrize(("section", "values", "field", "rule"), CASES)
def test_bad_values_are_refused_with_field_and_rule(api, section, values, field, rule) -> None:
    state, base, auth = api
    before = state.config.model_dump()
    response = httpx.put(f"{base}/api/config/{section}", headers=auth, json=values)
    assert response.status_code == 422
    line = next(ln for ln in response.json()["detail"].splitlines()
                if ln.strip().startswith(field + ":"))
    assert rule in line
    assert state.config.model_dump() == before


def test_unknown_section_and_users_section(api) -> None:
    _, base, auth = api
    assert httpx.put(f"{base}/api/config/nope", headers=auth, json={}).status_code == 404
    assert httpx.put(f"{base}/api/config/users", headers=auth,
                     json={"activated": False}).status_code == 403
    assert httpx.get(f"{base}/api/config/lorawan", headers=auth).json()["app_key"] == "**********"
