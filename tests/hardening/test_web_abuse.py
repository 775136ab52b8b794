"""Issue 24 (3, 4, 5): anonymous visitors cannot log the admin out or write
to the disk, X-Forwarded-For does not lift a lockout, and guessing security
answers neither skips the lockout nor stalls the web server."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from occusense.web import auth
from occusense.web.sessions import MAX_SESSIONS
from tests.web.conftest import PASSWORD
from tests.web.test_api import activate, csrf
from tests.web.test_safety import logged_in


def test_anonymous_visitors_neither_evict_the_admin_nor_write_to_disk(plain_sensor):
    _state, base = plain_sensor
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        activate(client, base)
    admin = logged_in(base)
    stored = Path(_state.config.state_dir) / "sessions.json"
    written = stored.stat().st_mtime_ns
    with httpx.Client(timeout=30) as visitors:
        for _ in range(MAX_SESSIONS + 100):
            visitors.cookies.clear()
            assert visitors.get(f"{base}/login").status_code == 200
    assert stored.stat().st_mtime_ns == written  # no disk write per anonymous visit
    assert admin.get(f"{base}/api/status").status_code == 200  # still logged in
    admin.close()


def test_x_forwarded_for_does_not_lift_a_lockout(plain_sensor):
    _state, base = plain_sensor
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        activate(client, base)
    with httpx.Client(timeout=30) as client:
        token = csrf(client, f"{base}/login")
        for _ in range(auth.MAX_FAILURES):
            client.post(f"{base}/login", data={"csrf_token": token, "password": "Wrong1234"})
        for forged in ("203.0.113.7", "10.1.2.3"):
            answer = client.post(f"{base}/login", headers={"X-Forwarded-For": forged},
                                 data={"csrf_token": token, "password": PASSWORD})
            assert answer.status_code == 429


def test_a_locked_out_client_costs_no_hash_and_hashes_run_off_the_event_loop(
        plain_sensor, monkeypatch):
    _state, base = plain_sensor
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        activate(client, base)
    threads: list[str] = []
    real = auth.verify_secret

    def counted(stored: str, given: str) -> bool:
        threads.append(threading.current_thread().name)
        return real(stored, given)

    monkeypatch.setattr(auth, "verify_secret", counted)
    with httpx.Client(timeout=30) as client:
        token = csrf(client, f"{base}/forgot")
        guess = {"csrf_token": token, "password": "New2026pass", "confirm": "New2026pass",
                 "answer0": "eight"}
        for _ in range(auth.MAX_FAILURES):
            assert client.post(f"{base}/forgot", data=guess).status_code == 400
        assert len(threads) == auth.MAX_FAILURES
        assert "web" not in threads  # not on uvicorn's thread (its event loop)
        for _ in range(20):
            answer = client.post(f"{base}/forgot", data=guess | {"answer0": "seven"})
            assert answer.status_code == 429
            assert "too many attempts" in answer.text
        assert len(threads) == auth.MAX_FAILURES  # no hash for a locked-out client
