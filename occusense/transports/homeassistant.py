"""Home Assistant MQTT discovery (issue 20): the sensor's counts appear in
Home Assistant as sensors of one device, with no YAML on the HA side.

On connecting, the sensor publishes (retained) one discovery config per
count under ``<prefix>/sensor/<node>/<object>/config`` — people in all,
each region by name, the line's in and out — with its unit, state class and
the device's identity (name, model, serial number, MAC), then ``online`` on
its availability topic. The broker holds ``offline`` there as the
connection's last will, so HA greys the sensors out when the sensor dies;
a clean stop publishes ``offline`` itself. The counts go (retained) to one
JSON state topic at most once a second, and whenever they change.

Written on paho-mqtt, the client the report transport already uses; the
discovery payload follows Home Assistant's MQTT discovery documentation.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from occusense.config.device import HomeAssistantSettings
from occusense.config.model import DeviceConfig
from occusense.transports.mqtt import stop_network_loop

log = logging.getLogger(__name__)

STATE_EVERY_S = 1.0


def slug(text: str) -> str:
    """An MQTT topic level and HA object id from a name."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unnamed"


def discovery_client(settings: HomeAssistantSettings, client_id: str, availability: str,
                     on_connect, on_disconnect=None) -> mqtt.Client:
    """A client of the Home Assistant broker, ``offline`` on ``availability``
    as its last will, reconnecting by itself (already connecting)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if settings.username:
        client.username_pw_set(settings.username, settings.password.get_secret_value())
    client.will_set(availability, "offline", qos=1, retain=True)
    client.on_connect = on_connect
    if on_disconnect is not None:
        client.on_disconnect = on_disconnect
    client.reconnect_delay_set(min_delay=1, max_delay=60)
    client.connect_async(settings.host, settings.port, keepalive=60)
    client.loop_start()
    return client


def say_offline(client: mqtt.Client, availability: str, timeout_s: float) -> None:
    """A clean stop: ``offline`` now (the will covers a crash), then disconnect."""
    info = client.publish(availability, "offline", qos=1, retain=True)
    try:
        info.wait_for_publish(timeout=timeout_s)
    except (RuntimeError, ValueError):
        pass  # not connected: the broker's will says offline
    client.disconnect()


class HomeAssistantPublisher:
    """Announces the sensor to Home Assistant and publishes its counts.

    Args:
        settings: broker, discovery prefix, node id.
        config: the device configuration (identity, regions, line).
        region_labels: what the counts call each region (``web.state.region_labels``).
        serial: the device's serial number (its unique id in HA).
    """

    def __init__(self, settings: HomeAssistantSettings, config: DeviceConfig,
                 region_labels: list[str], serial: str) -> None:
        self.settings = settings
        self.node = slug(settings.node_id or config.device.name)
        self.base = f"occusense/{self.node}"
        self.availability = f"{self.base}/availability"
        self.state_topic = f"{self.base}/state"
        self._sensors = self._sensor_list(config, region_labels)
        self._binary = self._binary_list(config, region_labels)
        self._occupied_at: dict[str, float] = {}  # each occupancy's last moment on
        self.space_name = config.space.name or config.device.name
        self._space_sent = ""  # the space's state as last published
        self._device = {
            "identifiers": [f"occusense_{serial}"], "name": config.device.name,
            "model": config.device.model, "manufacturer": "occusense",
            "serial_number": serial, "hw_version": config.device.hardware_version,
        }
        self._last: tuple[float, str] = (0.0, "")
        self._lock = threading.Lock()
        self.available = True  # False while the camera is lost: HA greys the sensors out
        self._down = threading.Event()  # set while not connected
        self._down.set()
        self.client = discovery_client(settings, f"occusense-ha-{self.node}", self.availability,
                                       self._on_connect, lambda *_: self._down.set())

    @staticmethod
    def _sensor_list(config: DeviceConfig, region_labels: list[str]) -> list[tuple[str, str, str]]:
        """(object id, name, state key) of every count the sensor has."""
        sensors = []
        if config.region_counting.enabled:
            sensors.append(("people", "People", "people"))
            sensors += [(f"region_{slug(label)}", f"People in {label}", label)
                        for label in region_labels]
            if config.region_counting.dwell.enabled:
                sensors += [(f"region_{slug(label)}_dwell", f"Longest stay in {label}",
                             f"dwell:{label}") for label in region_labels]
        if config.line_crossing.enabled:
            sensors += [("line_in", "Line in", "in"), ("line_out", "Line out", "out")]
        if config.space.enabled:
            sensors.append(("space", f"People in {config.space.name or 'the space'}", "space"))
        return sensors

    def discovery(self) -> dict[str, dict[str, Any]]:
        """Each sensor's discovery topic and config: the counts as sensors,
        each region's occupancy and the overcrowding alarm as binary sensors."""
        out = {}
        common = {"state_topic": self.state_topic, "availability_topic": self.availability,
                  "device": self._device}
        for object_id, name, key in self._sensors:
            topic = f"{self.settings.prefix}/sensor/{self.node}/{object_id}/config"
            out[topic] = common | {
                "name": name,
                "unique_id": f"{self.node}_{object_id}",
                "object_id": f"{self.node}_{object_id}",
                "value_template": f"{{{{ value_json[{json.dumps(key)}] }}}}",
                "unit_of_measurement": "people",
                "state_class": "total_increasing" if key in ("in", "out") else "measurement",
            }
            if key.startswith("dwell:"):  # a stay's length, not people
                out[topic] |= {"unit_of_measurement": "s", "device_class": "duration"}
        for object_id, name, key, device_class in self._binary:
            topic = f"{self.settings.prefix}/binary_sensor/{self.node}/{object_id}/config"
            out[topic] = common | {
                "name": name, "unique_id": f"{self.node}_{object_id}",
                "object_id": f"{self.node}_{object_id}", "device_class": device_class,
                "value_template": f"{{{{ 'ON' if value_json[{json.dumps(key)}] else 'OFF' }}}}",
            }
        return out

    @staticmethod
    def _binary_list(config: DeviceConfig, region_labels: list[str]) -> list[tuple[str, ...]]:
        """(object id, name, state key, device class) of each binary sensor."""
        binary: list[tuple[str, ...]] = []
        rc = config.region_counting
        if rc.enabled:
            binary.append(("occupied", "Occupied", "occupied", "occupancy"))
            binary += [(f"region_{slug(label)}_occupied", f"{label} occupied",
                        f"occupied:{label}", "occupancy") for label in region_labels]
            if rc.overcrowding.enabled:
                binary.append(("overcrowded", "Overcrowded", "alarm", "problem"))
        if config.space.enabled:
            binary.append(("space_occupied", f"{config.space.name or 'The space'} occupied",
                           "occupied:space", "occupancy"))
        return binary

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("Home Assistant broker refused: %s", reason_code)
            return
        for topic, config in self.discovery().items():
            client.publish(topic, json.dumps(config), qos=1, retain=True)
        self._down.clear()
        client.publish(self.availability, "online" if self.available else "offline",
                       qos=1, retain=True)
        with self._lock:
            self._last = (0.0, "")  # send the state again after a reconnect
            self._space_sent = ""
        log.info("Home Assistant discovery published for %d sensor(s)",
                 len(self._sensors) + len(self._binary))

    def set_available(self, available: bool) -> None:
        """The camera delivers frames (online) or is lost (offline: HA shows
        the sensors unavailable rather than a count nobody made)."""
        if available != self.available:
            self.available = available
            self.client.publish(self.availability, "online" if available else "offline",
                                qos=1, retain=True)

    def update(self, counts: dict[str, Any]) -> None:
        """The counts of a frame: published when changed, at most once a second."""
        state = {key: counts[key] for _, _, key in self._sensors if key in counts}
        now = time.monotonic()
        for _, _, key, device_class in self._binary:
            if device_class == "occupancy":  # on while anybody is there, and off_delay_s after
                count = counts.get(key.removeprefix("occupied:") if ":" in key else "people", 0)
                if count:
                    self._occupied_at[key] = now
                since = now - self._occupied_at.get(key, -1e9)
                state[key] = bool(count) or since < self.settings.off_delay_s
            else:
                state[key] = bool(counts.get(key))
        body = json.dumps(state, sort_keys=True)
        with self._lock:
            last_at, last_body = self._last
            if body == last_body or now - last_at < STATE_EVERY_S:
                return
            self._last = (now, body)
        self.client.publish(self.state_topic, body, qos=0, retain=True)
        if "space" in counts:  # the room its line watches, on a topic of its own, when it moves
            space = json.dumps({"occupancy": counts["space"], "name": self.space_name})
            if space != self._space_sent:
                self._space_sent = space
                self.client.publish(f"{self.base}/space", space, qos=1, retain=True)

    def close(self, timeout_s: float = 1.0) -> None:
        """A clean stop: ``offline`` now (the will covers a crash)."""
        say_offline(self.client, self.availability, timeout_s)
        # a clean disconnect before the next publisher (same client id) connects:
        # a broker that drops a taken-over connection publishes its will
        self._down.wait(timeout=timeout_s)
        stop_network_loop(self.client, timeout_s)


class SpacePublisher:
    """A site's spaces on MQTT and in Home Assistant (issue 29).

    Each space's state goes (retained, when it changes) to its own topic
    ``occusense/<node>/spaces/<id>`` as JSON (occupancy, capacity,
    overcrowded); Home Assistant discovers, per space, the occupancy as a
    sensor, an occupancy ``binary_sensor`` (on while anybody is inside) and,
    with a capacity, an overcrowding ``binary_sensor`` (device class
    problem), all of one device: the site.

    Args:
        settings: the broker and discovery prefix (``site.yaml``'s
            ``home_assistant``).
        site: the site's name (its device in HA).
        spaces: (id, name, capacity) of each space.
    """

    def __init__(self, settings: HomeAssistantSettings, site: str,
                 spaces: list[tuple[str, str, int]]) -> None:
        self.settings = settings
        self.node = slug(settings.node_id or site)
        self.base = f"occusense/{self.node}"
        self.availability = f"{self.base}/availability"
        self.spaces = spaces
        self._device = {"identifiers": [f"occusense_site_{self.node}"], "name": site,
                        "model": "occusense site", "manufacturer": "occusense"}
        self._sent: dict[str, str] = {}
        self._lock = threading.Lock()
        self.client = discovery_client(settings, f"occusense-spaces-{self.node}",
                                       self.availability, self._on_connect)

    def topic(self, space_id: str) -> str:
        return f"{self.base}/spaces/{space_id}"

    def discovery(self) -> dict[str, dict[str, Any]]:
        """Each space's discovery topics and configs."""
        out: dict[str, dict[str, Any]] = {}
        prefix = self.settings.prefix
        for space_id, name, capacity in self.spaces:
            common = {"state_topic": self.topic(space_id), "availability_topic": self.availability,
                      "device": self._device}
            obj = f"{self.node}_space_{slug(space_id)}"
            out[f"{prefix}/sensor/{self.node}/space_{slug(space_id)}/config"] = common | {
                "name": f"{name} occupancy", "unique_id": obj, "object_id": obj,
                "value_template": "{{ value_json.occupancy }}", "unit_of_measurement": "people",
                "state_class": "measurement"}
            out[f"{prefix}/binary_sensor/{self.node}/space_{slug(space_id)}/config"] = common | {
                "name": f"{name} occupied", "unique_id": f"{obj}_occupied",
                "object_id": f"{obj}_occupied", "device_class": "occupancy",
                "value_template": "{{ 'ON' if value_json.occupancy > 0 else 'OFF' }}"}
            if capacity:
                out[f"{prefix}/binary_sensor/{self.node}/space_{slug(space_id)}_full/config"] = (
                    common | {"name": f"{name} overcrowded", "unique_id": f"{obj}_overcrowded",
                              "object_id": f"{obj}_overcrowded", "device_class": "problem",
                              "value_template":
                                  "{{ 'ON' if value_json.overcrowded else 'OFF' }}"})
        return out

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("spaces: the MQTT broker refused: %s", reason_code)
            return
        for topic, config in self.discovery().items():
            client.publish(topic, json.dumps(config), qos=1, retain=True)
        client.publish(self.availability, "online", qos=1, retain=True)
        with self._lock:
            sent, self._sent = dict(self._sent), {}
        for space_id, body in sent.items():  # the states again after a reconnect
            self._publish(space_id, body)

    def update(self, spaces: dict[str, dict[str, Any]]) -> None:
        """The spaces now: each one's state published when it changed."""
        for space_id, state in spaces.items():
            body = json.dumps({"space": space_id, "name": state["name"],
                               "occupancy": state["occupancy"], "capacity": state["capacity"],
                               "overcrowded": state["overcrowded"]}, sort_keys=True)
            with self._lock:
                if self._sent.get(space_id) == body:
                    continue
            self._publish(space_id, body)

    def _publish(self, space_id: str, body: str) -> None:
        info = self.client.publish(self.topic(space_id), body, qos=1, retain=True)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            with self._lock:
                self._sent[space_id] = body

    def retract(self, successor: SpacePublisher | None, timeout_s: float = 2.0) -> list[str]:
        """Clear from the broker (and so from Home Assistant) the retained
        discovery configs and states that ``successor`` (the publisher of
        the spaces as saved now; None: no spaces in HA any more) no longer
        publishes: a removed space leaves no ghost entity with a stale
        occupancy. The topics cleared."""
        kept = set(successor.discovery()) if successor is not None else set()
        kept_ids = {s[0] for s in successor.spaces} if successor is not None else set()
        topics = [t for t in self.discovery() if t not in kept]
        topics += [self.topic(i) for i, _, _ in self.spaces if i not in kept_ids]
        deadline = time.monotonic() + timeout_s
        sent = [self.client.publish(topic, b"", qos=1, retain=True) for topic in topics]
        for info in sent:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):  # not connected: HA keeps them until next time
                log.warning("spaces: the broker is away; removed spaces stay in Home "
                            "Assistant until it is back and they are saved again")
                break
        return topics

    def close(self, timeout_s: float = 1.0) -> None:
        say_offline(self.client, self.availability, timeout_s)
        stop_network_loop(self.client, timeout_s)
