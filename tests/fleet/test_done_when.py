"""Issue 20, done when: eight sample cameras run under one service with one
GUI, appear in Home Assistant's discovery topics (a real mosquitto, read as
Home Assistant reads it) and expose /metrics."""

from __future__ import annotations

import json
import re

import httpx

from tests.fleet.conftest import start_site, write_camera
from tests.fleet.test_site_web import activated, token
from tests.transports.conftest import wait_for
from tests.transports.test_homeassistant import Listener

CAMERAS = [f"cam{i}" for i in range(1, 9)]


def test_eight_sample_cameras_in_one_service(broker, tmp_path):
    root = tmp_path / "site"
    ha = {"enabled": True, "host": "127.0.0.1", "port": broker.port}
    for camera in CAMERAS:
        write_camera(root, camera, home_assistant=ha)
    (root / "site.yaml").write_text("name: Eight\nweb: {secure_cookies: false}\n")
    listener = Listener(broker.port, "homeassistant/#", "occusense/#")
    site, follower = start_site(root)
    try:
        assert site.running(*CAMERAS, timeout=90)
        # one GUI: every camera listed, each with its own pages
        client = activated(site)
        listed = client.get("/api/cameras").json()["cameras"]
        assert [c["id"] for c in listed] == CAMERAS
        assert all(c["status"] == "running" and c["frames"] > 0 for c in listed)
        page = client.get("/cameras").text
        assert all(f'data-camera="{c}"' in page for c in CAMERAS)
        assert client.get("/cameras/cam8/live").status_code == 200
        # each its own identity
        states = [site.service.cameras[c].state for c in CAMERAS]
        assert len({s.config.device.serial_number for s in states}) == 8
        assert len({s.config.state_dir for s in states}) == 8
        # one shared engine for the eight
        assert len(site.service.pool.stats()) == 1
        # Home Assistant: eight devices, each online with its people sensor
        for camera in CAMERAS:
            topic = f"homeassistant/sensor/{camera}/people/config"
            assert wait_for(lambda t=topic: listener.last(t) is not None, timeout=30), topic
            assert json.loads(listener.last(topic))["device"]["name"] == camera
            assert wait_for(lambda c=camera: listener.last(f"occusense/{c}/availability")
                            == b"online", timeout=30)
        identifiers = {json.loads(listener.last(f"homeassistant/sensor/{c}/people/config"))
                       ["device"]["identifiers"][0] for c in CAMERAS}
        assert len(identifiers) == 8
        # /metrics: every camera
        text = httpx.get(f"{site.url}/metrics", headers=token(site)).text
        counted = set(re.findall(r'occusense_frames_total\{camera="(cam\d)"\} [1-9]', text))
        assert counted == set(CAMERAS)
    finally:
        site.server.stop()  # type: ignore[attr-defined]
        site.service.stop()
        follower.join(timeout=10)
        listener.close()
