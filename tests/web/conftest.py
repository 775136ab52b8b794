"""A real sensor web server on loopback, fed real frames, for API and browser tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from occusense.config import load_config
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.app import create_app
from occusense.web.server import WebServer
from occusense.web.state import SensorState
from tests.conftest import REPO, SAMPLE_VIDEO

PASSWORD = "Occu2026sense"


@pytest.fixture
def sensor(tmp_path) -> Iterator[tuple[SensorState, str]]:
    """The web GUI of a sensor running the sample video (looping), not activated."""
    yield from _sensor(tmp_path, secure_cookies=True)


@pytest.fixture
def plain_sensor(tmp_path) -> Iterator[tuple[SensorState, str]]:
    """The same with non-Secure cookies, for an HTTP client that is not a browser."""
    yield from _sensor(tmp_path, secure_cookies=False)


def _sensor(tmp_path, secure_cookies: bool) -> Iterator[tuple[SensorState, str]]:
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.output.jsonl_path = ""
    config.state_dir = str(tmp_path / "state")
    config.web.secure_cookies = secure_cookies
    state = SensorState(config, tmp_path / "config.yaml")
    server = WebServer(create_app(state), "127.0.0.1", 0)
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            source = open_source(str(SAMPLE_VIDEO), realtime=True)
            runner = SensorRunner(state, source, 0.0, [])
            runner.run(max_frames=790, on_frame=lambda f: stop.is_set() and _halt())

    def _halt() -> None:
        raise KeyboardInterrupt

    thread = threading.Thread(target=lambda: _quiet(feed), daemon=True)
    thread.start()
    yield state, server.url.rstrip("/")
    stop.set()
    thread.join(timeout=10)
    server.stop()


def _quiet(fn) -> None:
    try:
        fn()
    except KeyboardInterrupt:
        pass
