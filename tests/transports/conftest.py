"""Real peers for transport tests: mosquitto brokers (plain and TLS with
certificates made here by trustme), HTTP(S) receivers, an MQTT subscriber."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import trustme
from paho.mqtt.enums import CallbackAPIVersion


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 15.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Broker:
    """A real mosquitto on loopback; can be stopped and started again."""

    def __init__(self, workdir: Path, tls: trustme.CA | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        assert shutil.which("mosquitto"), "install Debian's mosquitto (scripts/install.sh)"
        self.port = free_port()
        self.tls_port = free_port()
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false"]
        if os.geteuid() == 0:  # as root mosquitto would drop to a user who cannot read tmp
            lines.append("user root")
        self.files: dict[str, Path] = {}
        if tls is not None:
            server = tls.issue_cert("127.0.0.1", "localhost")
            for name, blob in (
                ("ca.pem", tls.cert_pem),
                ("server.pem", server.cert_chain_pems[0]),
                ("server.key", server.private_key_pem),
            ):
                path = workdir / name
                blob.write_to_path(str(path))
                self.files[name] = path
            client = tls.issue_cert("occusense-client")
            client.cert_chain_pems[0].write_to_path(str(workdir / "client.pem"))
            client.private_key_pem.write_to_path(str(workdir / "client.key"))
            self.files["client.pem"] = workdir / "client.pem"
            self.files["client.key"] = workdir / "client.key"
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.files['ca.pem']}",
                f"certfile {self.files['server.pem']}",
                f"keyfile {self.files['server.key']}",
                "require_certificate true",
            ]
        lines += extra  # e.g. a bridge's connection section (it must come last)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(lambda: _listening(self.port)), "mosquitto did not start"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Subscriber:
    """A real MQTT client that records what it receives on a topic."""

    def __init__(self, port: int, topic: str, qos: int = 2) -> None:
        self.messages: list[dict] = []
        self.status: list[tuple[str, str]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{port}-{qos}")
        ready = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe(topic, qos), ready.set())
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10)
        time.sleep(0.2)  # the SUBACK

    def _on_message(self, client, userdata, message) -> None:
        """Reports (JSON); the sensor's plain-text status beside them goes to ``status``."""
        try:
            self.messages.append(json.loads(message.payload))
        except ValueError:
            self.status.append((message.topic, message.payload.decode()))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def broker(tmp_path, ca) -> Iterator[Broker]:
    b = Broker(tmp_path, tls=ca)
    yield b
    b.stop()


class Receiver:
    """A real HTTP(S) server recording JSON POSTs; checks basic auth if set."""

    def __init__(
        self,
        port: int | None = None,
        tls: trustme.CA | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.bodies: list[dict] = []
        self.refused = 0
        expected = (
            "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() if auth else None
        )
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if expected and self.headers.get("Authorization") != expected:
                    receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.url = f"{self.scheme}://127.0.0.1:{self.port}/reports"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
