"""Routes each feature's reports to its recipients without ever blocking
the video pipeline (SPEC E4, E5, T1-T3).

``send`` only queues: one worker thread per recipient delivers, in order.
With retransmission on (the default), reports without a snapshot go through
the durable :class:`~occusense.transports.outbox.Outbox` and are deleted only
once acknowledged; a recipient that is down is retried with back-off (0.5 s
doubling to 30 s) and its backlog drains in order when it returns. Reports
with a snapshot, or all reports with retransmission off, wait in a bounded
memory queue and are dropped (and counted) if the recipient stays down.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from occusense.config.model import DeviceConfig
from occusense.config.reporting import Protocol as Proto
from occusense.config.reporting import ReportSettings
from occusense.errors import TransportError
from occusense.reports.reporter import Report
from occusense.transports.http import HttpSender
from occusense.transports.mqtt import MqttConnection, MqttConnections, MqttSender
from occusense.transports.outbox import Outbox

log = logging.getLogger(__name__)
MEMORY_QUEUE = 100
SHUTDOWN_S = 1.5  # the longest a stop may wait on recipients (the whole stop: 2 s)
STOP_MARGIN_S = 0.5  # of it, kept for stopping the workers and connections
FEATURE_SETTINGS = {
    "region": "region_counting",
    "dwell": "region_counting",
    "line": "line_crossing",
    "flow": "people_flow",
}


class Sender(Protocol):
    name: str
    kind: str

    @property
    def connected(self) -> bool | None: ...

    @property
    def last_error(self) -> str: ...

    def deliver(self, body: str) -> None: ...

    def test(self) -> str: ...

    def close(self) -> None: ...


@dataclass
class RecipientStatus:
    """What the GUI and API show per recipient (the guide's "Status")."""

    name: str
    connected: bool | None
    last_error: str
    delivered: int
    queued: int
    dropped: int


@dataclass
class _Route:
    sender: Sender
    snapshot: bool = False
    memory: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=MEMORY_QUEUE)
    )
    delivered: int = 0
    dropped: int = 0


class Dispatcher:
    """Delivers reports to the recipients each feature's settings name.

    Args:
        config: the device configuration (protocols, recipients, privacy).
        store: the retransmission store's file.
        connections: the sensor's broker connections, kept by their owner
            across configurations (None: the dispatcher's own, closed with it).
        client_suffix: appended to MQTT client ids (the connection test must
            not take over the running sensor's connection).
    """

    def __init__(self, config: DeviceConfig, store: str | Path = ":memory:",
                 connections: MqttConnections | None = None, client_suffix: str = "") -> None:
        self.retransmission = config.general.retransmission_enabled
        self.snapshots_allowed = config.privacy_mode.value == "normal"
        self.outbox = Outbox(store) if self.retransmission else None
        self._owns_connections = connections is None
        self._pool = (connections if connections is not None
                      else MqttConnections(report_status=not client_suffix))
        self._suffix = client_suffix
        self.connections: list[MqttConnection] = []
        self._routes: dict[str, list[_Route]] = {}
        self._by_name: dict[str, _Route] = {}
        self._wake: dict[str, threading.Event] = {}
        self._stop = threading.Event()
        self._outbox_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        client_id = f"occusense-{config.device.serial_number or 'sensor'}"
        # events for automations (overcrowding, long stays): MQTT on <topic>/events
        events = config.region_counting.overcrowding.enabled or bool(
            config.region_counting.dwell.long_stay_s)
        self._event_routes: dict[str, list[_Route]] = {}
        for feature, section in FEATURE_SETTINGS.items():
            settings = config.recipients_of(section)
            self._routes[feature] = self._build(settings, client_id)
            if events and feature in ("region", "dwell"):
                self._event_routes[feature] = self._build(settings, client_id, events=True)
        for name in self._by_name:
            thread = threading.Thread(
                target=self._work, args=(name,), daemon=True, name=f"deliver {name}"
            )
            thread.start()
            self._threads.append(thread)

    def _build(self, settings: ReportSettings, client_id: str,
               events: bool = False) -> list[_Route]:
        """The routes of a feature's recipients (``events``: for its events)."""
        routes = []
        if settings.protocol in (Proto.mqtt, Proto.mqtts) and settings.mqtt.host:
            tls = settings.protocol is Proto.mqtts
            mqtt = settings.mqtt
            if self._suffix:
                mqtt = mqtt.model_copy(update={"client_id": mqtt.client_id and
                                               mqtt.client_id + self._suffix})
            connection = self._pool.get(mqtt, tls, client_id + self._suffix)
            if connection not in self.connections:
                self.connections.append(connection)
            topic = settings.mqtt.topic + ("/events" if events else "")
            sender = MqttSender(connection, topic, settings.mqtt.qos)
            routes.append(self._route(sender, False))
        elif settings.protocol is Proto.http:
            for recipient in settings.http:
                if recipient.enabled and recipient.url:
                    snapshot = recipient.snapshot and self.snapshots_allowed
                    routes.append(self._route(HttpSender(recipient), snapshot))
        return routes

    def _route(self, sender: Sender, snapshot: bool) -> _Route:
        name = sender.name
        if name in self._by_name:  # two features, one recipient: one queue
            route = self._by_name[name]
            route.snapshot |= snapshot
            return route
        route = _Route(sender, snapshot)
        self._by_name[name] = route
        self._wake[name] = threading.Event()
        return route

    @property
    def wants_snapshot(self) -> bool:
        return any(r.snapshot for r in self._by_name.values())

    def recipients(self) -> list[str]:
        return list(self._by_name)

    def send(self, report: Report, snapshot: str | None = None) -> None:
        """Queue ``report`` for its feature's recipients; never blocks on the network."""
        body = json.dumps(report.body, ensure_ascii=False)
        routes = self._event_routes if report.kind == "event" else self._routes
        for route in routes.get(report.feature, []):
            name = route.sender.name
            if route.snapshot and snapshot:
                route.memory.append(json.dumps(report.body | {"snapshot": snapshot}))
            elif self.outbox is not None:
                self.outbox.add(name, body)
            else:
                if len(route.memory) == route.memory.maxlen:
                    route.dropped += 1
                route.memory.append(body)
            self._wake[name].set()

    def _work(self, name: str) -> None:
        route = self._by_name[name]
        delay = 0.5
        while not self._stop.is_set():
            item = self._next(name, route)
            if item is None:
                self._wake[name].wait(timeout=1.0)
                self._wake[name].clear()
                continue
            report_id, body = item
            try:
                route.sender.deliver(body)
            except TransportError as exc:
                log.warning("delivery failed: %s; retrying in %.1f s", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            except Exception:
                log.exception("unexpected error delivering to %s", name)
                self._stop.wait(delay)
                continue
            delay = 0.5
            route.delivered += 1
            with self._outbox_lock:  # the store may have closed while sending
                if report_id is None:
                    route.memory.popleft()
                elif self.outbox is not None:
                    self.outbox.remove(report_id)

    def _next(self, name: str, route: _Route) -> tuple[int | None, str] | None:
        if route.memory:
            return None, route.memory[0]
        with self._outbox_lock:
            oldest = self.outbox.oldest(name) if self.outbox is not None else []
        return oldest[0] if oldest else None

    def status(self) -> list[RecipientStatus]:
        out = []
        for name, route in self._by_name.items():
            queued = len(route.memory) + (self.outbox.count(name) if self.outbox else 0)
            out.append(
                RecipientStatus(
                    name,
                    route.sender.connected,
                    route.sender.last_error,
                    route.delivered,
                    queued,
                    route.dropped,
                )
            )
        return out

    def test(self) -> list[tuple[str, bool, str]]:
        """The connection test of every recipient: (name, ok, message)."""
        def one(name: str) -> tuple[str, bool, str]:
            try:
                return name, True, self._by_name[name].sender.test()
            except TransportError as exc:
                return name, False, str(exc)

        if not self._by_name:
            return []
        with ThreadPoolExecutor(len(self._by_name)) as pool:  # all at once, not one by one
            return list(pool.map(one, self._by_name))

    def close(self, drain_s: float = 0.0, timeout_s: float = SHUTDOWN_S) -> None:
        """Stop the workers, within ``timeout_s`` whatever the recipients do.

        Queued reports get up to ``drain_s`` (capped to leave time to stop) to
        go out; what has not been acknowledged then stays in the outbox for
        the next start. A worker stuck on a recipient that does not answer is
        left behind (a daemon thread): its report was never removed, so it is
        sent again next time rather than lost."""
        deadline = time.monotonic() + timeout_s
        drain_until = min(time.monotonic() + drain_s, deadline - STOP_MARGIN_S)
        while time.monotonic() < drain_until and any(s.queued for s in self.status()):
            time.sleep(0.05)
        self._stop.set()
        for event in self._wake.values():
            event.set()
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic() - STOP_MARGIN_S / 2))
        with self._outbox_lock:
            for route in self._by_name.values():
                route.sender.close()
            if self._owns_connections:
                self._pool.close(timeout_s=max(0.05, deadline - time.monotonic() - 0.05))
            if self.outbox is not None:
                self.outbox.close()
                self.outbox = None


class DispatcherSink:
    """Adapts a :class:`Dispatcher` to the pipeline's sink interface.

    Args:
        dispatcher: where reports go.
        snapshot: returns the current frame as base64 JPEG (only called when
            a recipient asked for snapshots and privacy mode is Normal).
    """

    def __init__(self, dispatcher: Dispatcher, snapshot) -> None:
        self.dispatcher = dispatcher
        self.snapshot = snapshot

    def send(self, report: Report) -> None:
        image = self.snapshot() if self.dispatcher.wants_snapshot else None
        self.dispatcher.send(report, image)

    def close(self) -> None:
        self.dispatcher.close(drain_s=SHUTDOWN_S)


def has_recipients(config: DeviceConfig) -> bool:
    """Whether any feature reports over MQTT(S) or HTTP(S)."""
    for section in set(FEATURE_SETTINGS.values()):
        settings = config.recipients_of(section)
        if settings.protocol in (Proto.mqtt, Proto.mqtts) and settings.mqtt.host:
            return True
        if settings.protocol is Proto.http and any(r.enabled and r.url for r in settings.http):
            return True
    return False
