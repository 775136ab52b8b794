"""Issue 20: Home Assistant MQTT discovery against a real mosquitto, read as
Home Assistant reads it: retained discovery configs, a JSON state topic and
an availability topic with a last will."""

from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from occusense.config import load_config
from occusense.config.device import HomeAssistantSettings
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.state import SensorState
from tests.conftest import REPO
from tests.transports.conftest import wait_for


class Listener:
    """Everything published under some topics, as the broker hands it out."""

    def __init__(self, port: int, *topics: str) -> None:
        self.seen: dict[str, list[tuple[bytes, bool]]] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ha-{port}")
        ready = threading.Event()

        def subscribed(client, *_):
            for topic in topics:
                client.subscribe(topic, 1)
            ready.set()

        self.client.on_connect = subscribed
        self.client.on_message = lambda c, u, m: self.seen.setdefault(m.topic, []).append(
            (m.payload, m.retain))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10)

    def last(self, topic: str) -> bytes | None:
        return self.seen[topic][-1][0] if topic in self.seen else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def sensor_config(tmp_path, port: int):
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.output.jsonl_path, config.state_dir = "", str(tmp_path / "state")
    config.home_assistant = HomeAssistantSettings(enabled=True, host="127.0.0.1", port=port)
    return config


def test_counts_appear_as_home_assistant_sensors(broker, tmp_path, sample_video) -> None:
    config = sensor_config(tmp_path, broker.port)
    runner = SensorRunner(SensorState(config), open_source(str(sample_video)), 0.0, [])
    assert runner.run(max_frames=60) == 60
    listener = Listener(broker.port, "homeassistant/#", "occusense/#")  # after: retained
    try:
        node = "workplace_sensor"
        assert wait_for(lambda: listener.last(f"occusense/{node}/availability") is not None)
        configs = {t.split("/")[3]: json.loads(listener.last(t)) for t in listener.seen
                   if t.startswith(f"homeassistant/sensor/{node}/")}
        assert set(configs) == {"people", "region_west_walkway", "region_east_walkway",
                                "line_in", "line_out", "region_west_walkway_dwell",
                                "region_east_walkway_dwell"}
        dwell = configs["region_west_walkway_dwell"]  # the longest stay going on there
        assert (dwell["unit_of_measurement"], dwell["device_class"]) == ("s", "duration")
        west = configs["region_west_walkway"]
        assert west["name"] == "People in west walkway"
        assert west["unit_of_measurement"] == "people"
        assert west["state_topic"] == f"occusense/{node}/state"
        assert west["availability_topic"] == f"occusense/{node}/availability"
        assert west["device"]["name"] == "Workplace Sensor" and west["device"]["identifiers"]
        assert configs["line_in"]["state_class"] == "total_increasing"
        state = json.loads(listener.last(f"occusense/{node}/state"))
        assert set(state) == {"people", "west walkway", "east walkway", "in", "out", "occupied",
                              "occupied:west walkway", "occupied:east walkway",
                              "dwell:west walkway", "dwell:east walkway"}
        assert state["dwell:west walkway"] >= 0
        assert state["people"] >= 0
        # a clean stop says offline; the config and the last state stay retained
        assert listener.last(f"occusense/{node}/availability") == b"offline"
    finally:
        listener.close()


def test_a_dead_sensor_goes_offline_by_its_last_will(broker, tmp_path) -> None:
    from occusense.transports.homeassistant import HomeAssistantPublisher

    config = sensor_config(tmp_path, broker.port)
    listener = Listener(broker.port, "occusense/#")
    publisher = HomeAssistantPublisher(config.home_assistant, config, ["west walkway"], "1234")
    try:
        topic = f"occusense/{publisher.node}/availability"
        assert wait_for(lambda: listener.last(topic) == b"online")
        publisher.client.loop_stop()  # the process dies: its network thread stops and
        publisher.client.socket().close()  # the connection drops without a DISCONNECT
        assert wait_for(lambda: listener.last(topic) == b"offline", timeout=30)
    finally:
        listener.close()


def test_discovery_without_a_broker_is_a_clear_config_error() -> None:
    import pytest

    from occusense.config import parse_config
    from occusense.errors import ConfigError

    with pytest.raises(ConfigError, match="home_assistant needs the broker's host"):
        parse_config({"home_assistant": {"enabled": True}})


def test_regions_are_occupancy_binary_sensors_with_an_off_delay(broker, tmp_path) -> None:
    """Issue 29: each region an occupancy binary_sensor that stays on for the
    off delay after the last person leaves; the overcrowding alarm one of
    device class problem; read as Home Assistant reads them."""
    from occusense.transports.homeassistant import HomeAssistantPublisher

    config = sensor_config(tmp_path, broker.port)
    config.home_assistant.off_delay_s = 2
    config.region_counting.overcrowding.enabled = True
    listener = Listener(broker.port, "homeassistant/#", "occusense/#")
    labels = ["west walkway", "east walkway"]
    publisher = HomeAssistantPublisher(config.home_assistant, config, labels, "1234")
    node = publisher.node
    try:
        west_topic = f"homeassistant/binary_sensor/{node}/region_west_walkway_occupied/config"
        assert wait_for(lambda: listener.last(west_topic) is not None)
        west = json.loads(listener.last(west_topic))
        assert west["device_class"] == "occupancy"
        full = json.loads(listener.last(f"homeassistant/binary_sensor/{node}/overcrowded/config"))
        assert full["device_class"] == "problem"

        def state() -> dict:
            return json.loads(listener.last(f"occusense/{node}/state") or b"{}")

        def render(template: str, values: dict) -> str:  # HA's reading of the template
            key = template.split("value_json[")[1].split("]")[0]
            return "ON" if values[json.loads(key)] else "OFF"

        publisher.update({"people": 1, "west walkway": 1, "east walkway": 0, "alarm": 1})
        assert wait_for(lambda: state().get("west walkway") == 1)
        assert render(west["value_template"], state()) == "ON"
        assert render(full["value_template"], state()) == "ON"
        time.sleep(1.1)
        publisher.update({"people": 0, "west walkway": 0, "east walkway": 0, "alarm": 0})
        assert wait_for(lambda: state().get("west walkway") == 0)
        assert render(west["value_template"], state()) == "ON"  # within the off delay
        time.sleep(2.2)
        publisher.update({"people": 0, "west walkway": 0, "east walkway": 0, "alarm": 0})
        assert wait_for(lambda: state().get("occupied:west walkway") is False)
        assert render(west["value_template"], state()) == "OFF"
    finally:
        publisher.close()
        listener.close()
