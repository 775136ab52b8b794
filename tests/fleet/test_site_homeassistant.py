"""Issue 20: every camera of a site is its own Home Assistant device, read
from a real mosquitto as Home Assistant reads it."""

from __future__ import annotations

import json

from tests.fleet.conftest import start_site, write_camera
from tests.transports.conftest import wait_for
from tests.transports.test_homeassistant import Listener


def test_each_camera_is_a_home_assistant_device(broker, tmp_path):
    root = tmp_path / "site"
    ha = {"enabled": True, "host": "127.0.0.1", "port": broker.port}
    write_camera(root, "lobby", name="Lobby", home_assistant=ha)
    write_camera(root, "entrance", home_assistant=ha)
    listener = Listener(broker.port, "homeassistant/#", "occusense/#")
    site, follower = start_site(root, web=False)
    try:
        for node in ("lobby", "entrance"):
            assert wait_for(lambda n=node: listener.last(f"occusense/{n}/availability")
                            == b"online", timeout=30)
            assert wait_for(lambda n=node: listener.last(f"occusense/{n}/state") is not None,
                            timeout=30)
        people = {node: json.loads(listener.last(f"homeassistant/sensor/{node}/people/config"))
                  for node in ("lobby", "entrance")}
        devices = {node: config["device"] for node, config in people.items()}
        assert devices["lobby"]["name"] == "Lobby" and devices["entrance"]["name"] == "entrance"
        assert devices["lobby"]["identifiers"] != devices["entrance"]["identifiers"]
        assert people["lobby"]["unique_id"] != people["entrance"]["unique_id"]
        assert people["lobby"]["state_topic"] == "occusense/lobby/state"
        state = json.loads(listener.last("occusense/entrance/state"))
        assert {"people", "in", "out"} <= set(state)
    finally:
        site.service.stop()
        follower.join(timeout=10)
    # the service's stop says offline for each camera
    assert listener.last("occusense/lobby/availability") == b"offline"
    assert listener.last("occusense/entrance/availability") == b"offline"
    listener.close()
