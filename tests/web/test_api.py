"""G1, G2, G5, G7, G9 over real HTTP: activation, auth, CSRF, validation, export/import."""

from __future__ import annotations

import re
import time

import httpx
import pytest
import yaml

from occusense.web.auth import password_problem
from tests.web.conftest import PASSWORD


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short1", False),
        ("onlyletters", False),
        ("12345678", False),
        ("a" * 32 + "1", False),
        ("Occu2026sense", True),
        ("abcdefg1", True),
    ],
)
def test_password_rule(password, ok) -> None:
    assert (password_problem(password) is None) is ok


def bearer(client: httpx.Client, state, base: str) -> dict[str, str]:
    """Activate the sensor directly and get an API token for it."""
    from occusense.web.auth import hash_secret

    state.config.users.activated = True
    state.config.users.password_hash = hash_secret(PASSWORD)
    token = client.post(f"{base}/api/token", data={"password": PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def wait_for_frames(client: httpx.Client, base: str, auth: dict[str, str], count: int) -> None:
    deadline = time.monotonic() + 20
    while client.get(f"{base}/api/status", headers=auth).json()["frame"] < count:
        assert time.monotonic() < deadline, "the sensor produced no frames"
        time.sleep(0.2)


def csrf(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def activate(client: httpx.Client, base: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf(client, f"{base}/activate")
    return client.post(
        f"{base}/activate",
        data={
            "csrf_token": token,
            "password": password,
            "confirm": password,
            "privacy_mode": "normal",
            "question0": "What's your lucky number?",
            "answer0": "Seven",
        },
    )


def test_activation_session_csrf_and_throttling(plain_sensor) -> None:
    state, base = plain_sensor
    with httpx.Client(follow_redirects=True) as client:
        assert client.get(f"{base}/api/status").status_code == 401
        assert "/activate" in str(client.get(f"{base}/").url)
        weak = activate(client, base, "weak")
        assert weak.status_code == 400 and "8 to 32 characters" in weak.text
        assert state.config.users.activated is False
        assert "/live" in str(activate(client, base).url)
        assert state.config.users.activated and state.config.users.password_hash.startswith(
            "$argon2"
        )
        assert client.get(f"{base}/api/status").status_code == 200  # the session works
        wait_for_frames(client, base, {}, 1)
        about = client.get(f"{base}/about").text  # issue 17: what detects, on what hardware
        assert "Detector: nanodet-416.onnx (nanodet family) on CPU" in about
        # a state-changing request without the CSRF token is refused
        refused = client.put(
            f"{base}/api/config/line_crossing", json={"report": {"interval_s": 60}}
        )
        assert refused.status_code == 403
        token = csrf(client, f"{base}/settings")
        allowed = client.put(
            f"{base}/api/config/line_crossing",
            headers={"X-CSRF-Token": token},
            json={"report": {"interval_s": 60}},
        )
        assert allowed.status_code == 200
    with httpx.Client(follow_redirects=True) as other:
        for _ in range(5):
            token = csrf(other, f"{base}/login")
            bad = other.post(f"{base}/login", data={"csrf_token": token, "password": "Wrong123"})
            assert bad.status_code == 401
        token = csrf(other, f"{base}/login")
        locked = other.post(f"{base}/login", data={"csrf_token": token, "password": PASSWORD})
        assert locked.status_code == 429  # even the right password waits now


def test_api_with_token(sensor) -> None:
    state, base = sensor
    with httpx.Client() as client:
        auth = bearer(client, state, base)
        assert client.post(f"{base}/api/token", data={"password": "nope"}).status_code == 401
        wait_for_frames(client, base, auth, 5)
        status = client.get(f"{base}/api/status", headers=auth).json()
        assert "people" in status["counts"] and "in" in status["counts"]
        bad = client.put(
            f"{base}/api/config/line_crossing", headers=auth, json={"report": {"interval_s": 3}}
        )
        assert bad.status_code == 422 and "interval_s" in bad.json()["detail"]
        seventeen = client.put(
            f"{base}/api/config/region_counting",
            headers=auth,
            json={"regions": [{"points": [[0, 0], [0.1, 0], [0.1, 0.1]]}] * 17},
        )
        assert seventeen.status_code == 422 and "at most 16" in seventeen.json()["detail"]
        good = client.put(
            f"{base}/api/config/line_crossing", headers=auth, json={"report": {"interval_s": 60}}
        )
        assert good.status_code == 200 and good.json()["report"]["interval_s"] == 60
        assert state.config.line_crossing.report.interval_s == 60
        assert state.path.exists()  # saved
        exported = client.get(f"{base}/api/export", headers=auth).text
        assert "password_hash" not in exported and "$argon2" not in exported
        data = yaml.safe_load(exported)
        data["line_crossing"]["report"]["interval_s"] = 120
        imported = client.post(
            f"{base}/api/import", headers=auth, files={"file": ("c.yaml", yaml.safe_dump(data))}
        )
        assert imported.status_code == 200
        assert state.config.line_crossing.report.interval_s == 120
        assert state.config.users.activated  # the import kept the account
        garbage = client.post(
            f"{base}/api/import", headers=auth, files={"file": ("c.yaml", "region_counting: [1, 2")}
        )
        assert garbage.status_code == 422
        assert client.get(f"{base}/api/openapi.json").json()["info"]["title"] == "occusense"


def test_import_of_an_export_keeps_the_secrets(tmp_path) -> None:
    from occusense.config import config_to_dict, parse_config
    from occusense.web.app import _import
    from occusense.web.state import SensorState

    state = SensorState(
        parse_config(
            {"line_crossing": {"report": {"mqtt": {"host": "b", "password": "broker-secret"}}}}
        )
    )
    exported = yaml.safe_dump(config_to_dict(state.config))
    assert "broker-secret" not in exported
    _import(state, exported.encode())
    assert state.config.line_crossing.report.mqtt.password.get_secret_value() == "broker-secret"


def test_schedule_copy_reset_and_connection_test(sensor) -> None:
    from tests.transports.conftest import Receiver

    state, base = sensor
    receiver = Receiver()
    with httpx.Client() as client:
        auth = bearer(client, state, base)
        assert client.post(f"{base}/api/test-connection", headers=auth).status_code == 404
        monday = {"periods": [{"start": "08:00", "end": "12:00"}, {"start": "13:00",
                  "end": "18:00"}, {"start": "00:00", "end": "00:00"}]}
        put = client.put(f"{base}/api/config/line_crossing", headers=auth,
                         json={"schedule": {"monday": monday}})
        assert put.status_code == 200
        copied = client.post(f"{base}/api/schedule/line/copy?day=monday", headers=auth).json()
        assert copied["friday"]["periods"][1] == {"start": "13:00", "end": "18:00"}
        assert state.config.line_crossing.schedule.sunday.periods[0].start == "08:00"
        client.delete(f"{base}/api/schedule/line", headers=auth)
        assert state.config.line_crossing.schedule.sunday.periods[0].end == "24:00"
        client.put(f"{base}/api/config/line_crossing", headers=auth, json={"report": {
            "protocol": "http", "http": [{"enabled": True, "url": receiver.url}, {}, {}]}})
        results = client.post(f"{base}/api/test-connection", headers=auth).json()["results"]
        assert results[0]["ok"] and receiver.bodies[0]["event"] == "Connection Test"
    receiver.stop()


def test_recording_the_live_view(sensor) -> None:
    import cv2

    state, base = sensor
    with httpx.Client() as client:
        auth = bearer(client, state, base)
        wait_for_frames(client, base, auth, 2)
        started = client.post(f"{base}/api/recording?action=start", headers=auth).json()
        time.sleep(2.0)
        stopped = client.post(f"{base}/api/recording?action=stop", headers=auth).json()
        assert stopped["file"] == started["file"]
        video = client.get(f"{base}/api/recordings/{stopped['file']}", headers=auth)
        assert video.status_code == 200
        assert client.get(f"{base}/api/recordings/..%2Fconfig.yaml",
                          headers=auth).status_code == 404
    path = state.path.parent / "recorded.avi"
    path.write_bytes(video.content)
    cap = cv2.VideoCapture(str(path))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames >= 5  # two seconds at the sample's 10 frames/s


def test_saving_a_section_keeps_passwords_shown_as_placeholders() -> None:
    from occusense.config import parse_config
    from occusense.web.state import SensorState

    state = SensorState(parse_config({"line_crossing": {"report": {"http": [
        {"enabled": True, "url": "https://x.example/r", "password": "url-secret"}, {}, {}]}}}))
    shown = state.config.line_crossing.report.model_dump(mode="json")
    assert shown["http"][0]["password"] == "**********"
    shown["http"][0]["url"] = "https://y.example/r"
    state.edit("line_crossing", {"report": shown})
    http = state.config.line_crossing.report.http[0]
    assert http.url == "https://y.example/r" and http.password.get_secret_value() == "url-secret"
