"""MQTT and MQTTS report recipients (SPEC T2) on paho-mqtt 2.

One :class:`MqttConnection` per broker and client id, shared by the features
that publish there (a broker drops the older of two connections with the same
client id). paho's network thread reconnects with back-off (1 s doubling to
60 s). A non-zero CONNACK reason code is a failure, never "connected"; and a
publish counts as delivered only when the broker acknowledged it (PUBACK for
QoS 1, PUBCOMP for QoS 2) — until then the report stays in the outbox.

Each connection keeps a retained status on ``<topic>/status`` (or
``mqtt.status_topic``): ``online`` while the camera delivers frames, ``camera
lost`` while it does not (nothing else is sent then, and no count is made
up), ``offline`` when the sensor stops, and ``offline`` as the connection's
last will when it dies. A receiver can tell a dead camera from an empty
room. Connections live in :class:`MqttConnections`, which outlives a change
of configuration: a new pipeline reuses them, so the broker never sees two
connections with one client id (it would drop one and publish its will).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from occusense.config.reporting import CertificateType, MqttSettings
from occusense.errors import TransportError
from occusense.transports import TEST_TIMEOUT_S

log = logging.getLogger(__name__)
ACK_TIMEOUT_S = 10.0


ONLINE, CAMERA_LOST, OFFLINE = "online", "camera lost", "offline"


def connection_key(settings: MqttSettings, tls: bool) -> tuple:
    """What makes a connection: everything but a feature's topic and QoS."""
    return (settings.host, settings.port, settings.client_id, settings.username,
            settings.password.get_secret_value(), settings.certificate_type, settings.ca_file,
            settings.client_cert_file, settings.client_key_file, settings.keepalive_s,
            settings.status_topic or f"{settings.topic}/status", tls)


class MqttConnection:
    """A client connection to one broker, kept up in the background.

    Args:
        settings: broker, credentials, TLS files.
        tls: MQTTS (TLS) rather than plain MQTT.
        default_client_id: used when ``settings.client_id`` is empty.
    """

    def __init__(self, settings: MqttSettings, tls: bool, default_client_id: str,
                 status: str | None = ONLINE) -> None:
        self.settings = settings
        self.tls = tls
        self.name = f"{'mqtts' if tls else 'mqtt'}://{settings.host}:{settings.port}"
        self.connected = False
        self.last_error = "not connected yet"
        self._up = threading.Event()
        self._down = threading.Event()  # set while not connected
        self._down.set()
        # None: no status (the connection test's own connection)
        self.status_topic = settings.status_topic or f"{settings.topic}/status"
        self.status = status
        client_id = settings.client_id or default_client_id
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if status is not None:
            self.client.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password.get_secret_value())
        if tls:
            self.client.tls_set_context(_tls_context(settings))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.reconnect_delay_set(min_delay=1, max_delay=60)
        if not settings.host:
            raise TransportError(f"{self.name}: no broker host configured")
        self.client.connect_async(settings.host, settings.port, keepalive=settings.keepalive_s)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.connected, self.last_error = False, f"broker refused: {reason_code}"
            self._up.clear()
            log.warning("%s: %s", self.name, self.last_error)
            return
        self.connected, self.last_error = True, ""
        self._up.set()
        self._down.clear()
        if self.status is not None:
            client.publish(self.status_topic, self.status, qos=1, retain=True)
        log.info("%s connected", self.name)

    def _on_connect_fail(self, client, userdata) -> None:
        self.connected = False
        self.last_error = "cannot connect (refused, unreachable or unknown host); retrying"

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        self._up.clear()
        self._down.set()
        if reason_code.is_failure:
            self.last_error = f"disconnected: {reason_code}"
            log.warning("%s %s", self.name, self.last_error)

    def publish(self, topic: str, body: str, qos: int, timeout_s: float = ACK_TIMEOUT_S) -> None:
        """Publish and wait for the broker's acknowledgement (QoS 1 and 2)."""
        if not self._up.wait(timeout=timeout_s):
            raise TransportError(f"{self.name}: {self.last_error or 'not connected'}")
        info = self.client.publish(topic, body.encode(), qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise TransportError(f"{self.name}: publish failed ({mqtt.error_string(info.rc)})")
        try:
            info.wait_for_publish(timeout=timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise TransportError(f"{self.name}: publish failed ({exc})") from None
        if not info.is_published():
            raise TransportError(f"{self.name}: no acknowledgement within {timeout_s:.0f} s")

    def set_status(self, status: str) -> None:
        """The retained status (online / camera lost); sent now if connected,
        else when the connection comes up."""
        if self.status is not None and status != self.status:
            self.status = status
            if self.connected:
                self.client.publish(self.status_topic, status, qos=1, retain=True)

    def close(self, timeout_s: float = 1.0) -> None:
        """Say ``offline`` and disconnect cleanly (so the broker drops the
        will) within ``timeout_s``: paho's ``loop_stop`` waits for its
        network thread, which may be inside a connect to a host that does not
        answer (up to paho's 5 s connect timeout), so it runs on a helper
        thread that is left behind if the broker is that slow."""
        deadline = time.monotonic() + timeout_s
        if self.connected and self.status is not None:
            info = self.client.publish(self.status_topic, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=max(0.05, timeout_s / 2))
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self._down.wait(timeout=max(0.0, deadline - time.monotonic() - 0.05))
        stop_network_loop(self.client, max(0.05, deadline - time.monotonic()))


class MqttConnections:
    """The broker connections of one sensor, kept across configuration
    changes: :meth:`get` gives the one for a broker and settings (made on
    first use), :meth:`keep` closes those a new configuration no longer
    names, and :meth:`set_status` tells every broker what the camera does."""

    def __init__(self, report_status: bool = True) -> None:
        self._connections: dict[tuple, MqttConnection] = {}
        self._lock = threading.Lock()
        self.status: str | None = ONLINE if report_status else None

    def get(self, settings: MqttSettings, tls: bool, default_client_id: str) -> MqttConnection:
        key = (connection_key(settings, tls), default_client_id)
        with self._lock:
            if key not in self._connections:
                self._connections[key] = MqttConnection(settings, tls, default_client_id,
                                                        self.status)
            return self._connections[key]

    def keep(self, used: list[MqttConnection], timeout_s: float = 1.0) -> None:
        """Close every connection not in ``used``."""
        with self._lock:
            gone = {k: c for k, c in self._connections.items() if c not in used}
            for key in gone:
                del self._connections[key]
        for connection in gone.values():
            connection.close(timeout_s)

    def set_status(self, status: str) -> None:
        with self._lock:
            if self.status is None:
                return
            self.status = status
            connections = list(self._connections.values())
        for connection in connections:
            connection.set_status(status)

    def close(self, timeout_s: float = 1.0) -> None:
        self.keep([], timeout_s)


def stop_network_loop(client: mqtt.Client, timeout_s: float) -> None:
    """paho's ``loop_stop``, waited for at most ``timeout_s`` (its thread may
    be inside a connect to a host that does not answer)."""
    stopper = threading.Thread(target=client.loop_stop, daemon=True, name="mqtt stop")
    stopper.start()
    stopper.join(timeout=timeout_s)


def _tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """Verified TLS: the system CAs, or the uploaded CA plus a client certificate."""
    if settings.certificate_type is CertificateType.self_signed:
        if not settings.ca_file:
            raise TransportError("self-signed MQTTS needs mqtt.ca_file")
        context = ssl.create_default_context(cafile=settings.ca_file)
        if settings.client_cert_file:
            context.load_cert_chain(settings.client_cert_file, settings.client_key_file or None)
        return context
    return ssl.create_default_context()


class MqttSender:
    """A feature's topic and QoS on a shared :class:`MqttConnection`."""

    kind = "mqtt"

    def __init__(self, connection: MqttConnection, topic: str, qos: int) -> None:
        self.connection = connection
        self.topic = topic
        self.qos = qos
        self.name = f"{connection.name}/{topic}"

    @property
    def connected(self) -> bool:
        return self.connection.connected

    @property
    def last_error(self) -> str:
        return self.connection.last_error

    def deliver(self, body: str) -> None:
        self.connection.publish(self.topic, body, self.qos)

    def test(self) -> str:
        """The connection test: reach the broker (a refused or unreachable
        one is named at once), then publish a test message and wait for its
        acknowledgement."""
        settings = self.connection.settings
        try:
            socket.create_connection((settings.host, settings.port), timeout=TEST_TIMEOUT_S).close()
        except OSError as exc:
            raise TransportError(f"{self.name}: cannot connect ({exc.strerror or exc})") from None
        self.connection.publish(self.topic, '{"event": "Connection Test"}', max(self.qos, 1),
                                timeout_s=TEST_TIMEOUT_S)
        return f"{self.name}: OK"

    def close(self) -> None:
        """The shared connection is closed by its owner."""
