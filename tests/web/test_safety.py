"""Issue 18: sessions that end on the server, security headers, private
session files and confirmations before destructive actions."""

from __future__ import annotations

import base64
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
