"""Issue 18: sessions that end on the server, security headers, private
session files and confirmations before destructive actions."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.web.conftest import PASSWORD
from tests.web.test_api import activate, csrf
from tests.web.test_browser import activate as activate_in_browser
from tests.web.test_browser import browser, page  # noqa: F401 (fixtures)


def logged_in(base: str) -> httpx.Client:
    client = httpx.Client(follow_redirects=True, timeout=30)
    token = csrf(client, f"{base}/login")
    answer = client.post(f"{base}/login", data={"csrf_token": token, "password": PASSWORD})
    assert answer.status_code == 200 and "/live" in str(answer.url)
    return client


def test_a_logged_out_cookie_no_longer_opens_anything(plain_sensor) -> None:
    _state, base = plain_sensor
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        activate(client, base)
    client = logged_in(base)
    saved = dict(client.cookies)
    assert client.get(f"{base}/api/status").status_code == 200
    client.post(f"{base}/logout", data={"csrf_token": csrf(client, f"{base}/live")})
    with httpx.Client(cookies=saved, timeout=30) as thief:
        assert thief.get(f"{base}/api/status").status_code == 401
        assert thief.get(f"{base}/api/config").status_code == 401
    client.close()


def test_a_password_change_ends_every_session(plain_sensor) -> None:
    _state, base = plain_sensor
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        activate(client, base)
    first, second = logged_in(base), logged_in(base)
    token = first.post(f"{base}/api/token", data={"password": PASSWORD}).json()["token"]
    changed = first.post(f"{base}/maintenance/password", data={
        "csrf_token": csrf(first, f"{base}/maintenance"), "current": PASSWORD,
        "password": "New2026password", "confirm": "New2026password"})
    assert "log in with the new one" in changed.text
    assert first.get(f"{base}/api/status").status_code == 401
    assert second.get(f"{base}/api/status").status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/api/status", headers=bearer, timeout=30).status_code == 401
    first.close()
    second.close()


def test_the_cookie_is_an_opaque_id_and_sessions_are_private(plain_sensor) -> None:
    state, base = plain_sensor
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        activate(client, base)
        value = client.cookies["occusense_session"]
        padded = value + "=" * (-len(value) % 4)
        decoded = base64.urlsafe_b64decode(padded)
        assert b"admin" not in decoded and b"csrf" not in decoded
        token = csrf(client, f"{base}/settings")
        assert token not in value
    stored = Path(state.config.state_dir) / "sessions.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert value not in stored.read_text()  # only digests of the IDs are kept


def test_every_response_has_the_security_headers(plain_sensor) -> None:
    _state, base = plain_sensor
    for path in ("/login", "/activate", "/api/openapi.json", "/static/style.css"):
        headers = httpx.get(f"{base}{path}", timeout=30, follow_redirects=True).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"


def test_reset_and_restart_ask_first(sensor, page) -> None:  # noqa: F811
    state, base = sensor
    activate_in_browser(page, base)
    regions = len(state.config.region_counting.regions)
    assert regions == 2
    page.goto(f"{base}/maintenance")
    page.get_by_role("button", name="Reset", exact=True).click()
    expect(page.locator(".confirm")).to_contain_text("2 region(s)")
    assert len(state.config.region_counting.regions) == regions  # nothing lost yet
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(f"{base}/maintenance")
    version = state.version
    page.get_by_role("button", name="Restart the pipeline").click()
    expect(page.locator(".confirm")).to_contain_text("start again from zero")
    assert state.version == version
    page.get_by_role("button", name="Restart now").click()
    expect(page.locator("[role=status]")).to_contain_text("restarting")
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_role("button", name="Reset now").click()
    expect(page).to_have_url(f"{base}/login")  # every session ended, users kept
    assert state.config.region_counting.regions == []


def test_pages_run_under_the_content_security_policy(sensor, page) -> None:  # noqa: F811
    _state, base = sensor
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    activate_in_browser(page, base)
    for path in ("/live", "/draw", "/settings", "/maintenance", "/about"):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("load")
    page.goto(f"{base}/draw")
    page.select_option("#tool", "line")
    box = page.locator("#shapes").bounding_box()
    page.mouse.click(box["x"] + 100, box["y"] + 100)
    page.mouse.click(box["x"] + 100, box["y"] + 300, button="right")
    assert refused == []


def test_activation_leaves_the_config_file_as_written(tmp_path, sample_video) -> None:
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from tests.transports.conftest import free_port

    port = free_port()
    given = ("# the installer's notes\nstate_dir: {state}\noutput: {{jsonl_path: ''}}\n"
             "web: {{port: {port}, secure_cookies: false}}\n"
             "region_counting:\n  enabled: true\n  regions:\n"
             "    - name: lobby\n      points: [[0, 0], [0.5, 0], [0.5, 0.5]]\n")
    config = tmp_path / "site.yaml"
    config.write_text(given.format(state=tmp_path / "state", port=port))
    before = config.read_bytes()

    def start() -> subprocess.Popen:
        sensor = subprocess.Popen(
            [sys.executable, "-m", "occusense.cli", "run", "--config", str(config),
             "--source", str(sample_video), "--realtime", "--quiet"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                return sensor
            except httpx.HTTPError:
                assert time.monotonic() < deadline and sensor.poll() is None
                time.sleep(0.2)

    def stop(sensor: subprocess.Popen) -> None:
        sensor.send_signal(signal.SIGINT)
        sensor.wait(timeout=30)

    sensor = start()
    try:
        with httpx.Client(follow_redirects=True, timeout=30) as client:
            assert "/live" in str(activate(client, f"http://127.0.0.1:{port}").url)
    finally:
        stop(sensor)
    assert config.read_bytes() == before  # comments and all
    saved = yaml.safe_load((tmp_path / "state" / "config.yaml").read_text())
    assert saved["users"]["activated"] is True
    # the installer edits the file: its settings apply, the account stays
    config.write_text(given.replace("lobby", "front desk").format(state=tmp_path / "state",
                                                                  port=port))
    sensor = start()
    try:
        with httpx.Client(timeout=30) as client:
            assert "/login" in str(client.get(f"http://127.0.0.1:{port}/").headers["location"])
    finally:
        stop(sensor)
    saved = yaml.safe_load((tmp_path / "state" / "config.yaml").read_text())
    assert saved["users"]["activated"] is True
    assert saved["region_counting"]["regions"][0]["name"] == "front desk"


def test_saving_a_region_keeps_the_line_counts_moving_the_line_resets_them(sensor) -> None:
    import time

    from tests.web.test_api import bearer

    state, base = sensor
    with httpx.Client(timeout=30) as client:
        auth = bearer(client, state, base)

        def crossings() -> int:
            counts = client.get(f"{base}/api/status", headers=auth).json()["counts"]
            return counts.get("in", 0) + counts.get("out", 0)

        deadline = time.monotonic() + 60
        while crossings() < 2:
            assert time.monotonic() < deadline, "no crossings on the sample"
            time.sleep(0.2)
        before, version = crossings(), state.version
        regions = client.get(f"{base}/api/config/region_counting", headers=auth).json()
        regions["regions"][0]["name"] = "renamed"
        assert client.put(f"{base}/api/config/region_counting", headers=auth,
                          json={"regions": regions["regions"]}).status_code == 200
        frame = client.get(f"{base}/api/status", headers=auth).json()["frame"]
        while client.get(f"{base}/api/status", headers=auth).json()["frame"] < frame + 5:
            time.sleep(0.1)
        assert state.version > version
        assert crossings() >= before  # kept across the rebuild
        line = client.get(f"{base}/api/config/line_crossing", headers=auth).json()["line"]
        line["points"] = [[0.02, 0.02], [0.02, 0.1]]  # a corner nobody walks through
        assert client.put(f"{base}/api/config/line_crossing", headers=auth,
                          json={"line": line}).status_code == 200
        frame = client.get(f"{base}/api/status", headers=auth).json()["frame"]
        while client.get(f"{base}/api/status", headers=auth).json()["frame"] < frame + 10:
            time.sleep(0.1)
        assert crossings() == 0  # a moved line starts again from zero


def test_activation_refuses_the_same_security_question_twice(plain_sensor) -> None:
    state, base = plain_sensor
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        token = csrf(client, f"{base}/activate")
        answer = client.post(f"{base}/activate", data={
            "csrf_token": token, "password": PASSWORD, "confirm": PASSWORD,
            "privacy_mode": "normal",
            "question0": "What's your lucky number?", "answer0": "Seven",
            "question1": "What's your lucky number?", "answer1": "Eight"})
    assert answer.status_code == 400
    assert "choose a different question for each answer" in answer.text.lower()
    assert not state.config.users.activated


def test_favicon_and_export_names(sensor, page) -> None:  # noqa: F811
    _state, base = sensor
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    activate_in_browser(page, base)
    page.goto(f"{base}/maintenance")
    assert missing == []
    assert httpx.get(f"{base}/favicon.ico", timeout=30).headers["content-type"] == "image/svg+xml"
    with page.expect_download() as plain:
        page.get_by_role("link", name="Download").click()
    with page.expect_download() as secret:
        page.get_by_role("link", name="with secrets").click()
    names = plain.value.suggested_filename, secret.value.suggested_filename
    assert names[0].startswith("occusense-workplace-sensor-") and names[0].endswith(".yaml")
    assert names[1].endswith("-with-secrets.yaml") and names[0] != names[1]


def test_run_loops_a_file_and_serves_the_gui_where_asked(tmp_path, sample_video) -> None:
    import signal
    import subprocess
    import sys
    import time

    from tests.transports.conftest import free_port

    port = free_port()
    # the walkway detector: 900 frames of the room finder outlast the test on 2 slow cores
    config = (f"state_dir: {tmp_path / 'state'}\noutput: {{jsonl_path: ''}}\n"
              "detector: {scene: walkway}\n")
    (tmp_path / "c.yaml").write_text(config)
    sensor = subprocess.Popen(
        [sys.executable, "-m", "occusense.cli", "run", "--config", str(tmp_path / "c.yaml"),
         "--source", str(sample_video), "--loop", "--max-frames", "900", "--quiet",
         "--port", str(port), "--host", "127.0.0.1"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/activate", timeout=2).status_code == 200
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and sensor.poll() is None
                time.sleep(0.2)
        _, err = sensor.communicate(timeout=120)
    finally:
        sensor.send_signal(signal.SIGINT)
    assert "done: 900 frames" in err  # past the file's 795 frames


def test_the_live_chart_has_axes_units_and_a_legend_with_region_names(sensor, page) -> None:  # noqa: F811
    _state, base = sensor
    activate_in_browser(page, base)
    # a history point every 10 s of video: two of them take about 10 s
    expect(page.locator("#legend li")).not_to_have_count(0, timeout=40000)
    legend = page.locator("#legend li").all_inner_texts()
    assert {"people", "west walkway", "east walkway", "in (crossings, right axis)",
            "out (crossings, right axis)"} <= set(legend)
    expect(page.locator("dt", has_text="west walkway")).to_be_visible()
    units = page.locator("#chart text.unit").all_text_contents()
    assert units == ["people now", "crossings", "time"]  # occupancy and crossings apart
    ticks = page.locator("#chart text.tick-time").all_text_contents()
    assert ticks and all(len(t) >= 4 and ":" in t for t in ticks), ticks
    assert page.locator("#chart polyline").count() == len(legend)


def test_the_live_page_says_the_cameras_delay_and_when_the_sensor_is_unreachable(
        sensor, page) -> None:  # noqa: F811
    _state, base = sensor
    activate_in_browser(page, base)
    page.goto(f"{base}/live")
    expect(page.locator('[data-source="state"]')).to_have_text("running", timeout=20000)
    expect(page.locator('[data-source="lag"]')).to_have_text(re.compile(r"^\d+\.\d s$"))
    expect(page.locator('[data-source="dropped"]')).to_have_text(re.compile(r"^\d+$"))
    page.route("**/api/status", lambda route: route.abort())  # the network goes away
    expect(page.locator("#connection")).to_contain_text("Connection to the sensor lost",
                                                         timeout=20000)
    expect(page.locator(".live")).to_have_class(re.compile(r"\boffline\b"))  # greyed
    page.unroute("**/api/status")
    expect(page.locator("#connection")).to_have_text("Reconnected to the sensor.", timeout=20000)
    expect(page.locator(".live")).not_to_have_class(re.compile(r"\boffline\b"))
    expect(page.locator('[data-source="state"]')).to_have_text("running")
    expect(page.locator("#connection")).to_be_hidden(timeout=10000)


def test_logging_out_in_the_browser_ends_the_session_on_the_sensor(sensor, page) -> None:  # noqa: F811
    _state, base = sensor
    activate_in_browser(page, base)
    response = page.goto(f"{base}/live")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    page.click("text=Log out")
    expect(page).to_have_url(f"{base}/login")
    with httpx.Client(cookies=cookies, timeout=30) as replay:  # the cookie as it was
        assert replay.get(f"{base}/api/status").status_code == 401


def test_the_live_picture_carries_no_count_bar_to_disagree_with_the_list(sensor) -> None:
    import cv2
    import numpy as np

    from tests.web.test_api import bearer, wait_for_frames

    state, base = sensor
    with httpx.Client(timeout=30) as client:
        auth = bearer(client, state, base)
        wait_for_frames(client, base, auth, 5)
        body = b""
        with client.stream("GET", f"{base}/stream.mjpg", headers=auth) as stream:
            for chunk in stream.iter_bytes():
                body += chunk
                if body.count(b"\xff\xd9") >= 1:
                    break
    start = body.index(b"\xff\xd8")
    picture = cv2.imdecode(np.frombuffer(body[start : body.index(b"\xff\xd9") + 2], np.uint8),
                           cv2.IMREAD_COLOR)
    # the count bar was a black band over the top-left of the picture
    assert picture[3:20, 60:300].mean() > 40
