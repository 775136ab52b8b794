"""Report delivery throughput and its cost to the video pipeline (SPEC T1-T3).

Starts a real mosquitto and a real HTTP receiver on loopback and prints:
MQTT QoS 0 and QoS 1 and HTTP throughput (reports/s, through the durable
outbox), the time to drain 3000 reports queued while the receiver was down,
and the pipeline frame rate with a dead broker configured vs none.

    .venv/bin/python bench/transport_bench.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from occusense.config import load_config, parse_config
from occusense.pipeline import Pipeline, run_source
from occusense.reports.reporter import Report
from occusense.sources import open_source
from occusense.transports.dispatcher import Dispatcher, DispatcherSink

REPO = Path(__file__).resolve().parents[1]
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)


def mosquitto(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = workdir / "bench-mosquitto.conf"
    extra = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    f"max_queued_messages 100000\n{extra}")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc, port


def receiver(port: int) -> tuple[ThreadingHTTPServer, list]:
    got: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


def body(n: int) -> Report:
    return Report("line", {"event": "Line Crossing Counting", "report_type": "trigger",
                           "line_trigger_data": {"in": 1, "out": 0}, "n": n})


def send_paced(dispatcher: Dispatcher, count: int) -> None:
    """Send as fast as delivery allows without passing the 1000-report limit."""
    for n in range(count):
        while dispatcher.status()[0].queued >= 900:
            time.sleep(0.001)
        dispatcher.send(body(n))


def mqtt_rate(port: int, qos: int, count: int, store: Path) -> float:
    received: list = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{qos}")
    sub.on_message = lambda c, u, m: received.append(m.payload)
    sub.connect("127.0.0.1", port)
    sub.subscribe("bench/#", 1)
    sub.loop_start()
    time.sleep(0.3)
    config = parse_config({"line_crossing": {"report": {"protocol": "mqtt", "mqtt": {
        "host": "127.0.0.1", "port": port, "topic": "bench/line", "qos": qos}}}})
    dispatcher = Dispatcher(config, store)
    until(lambda: dispatcher.status()[0].connected)
    began = time.perf_counter()
    send_paced(dispatcher, count)
    until(lambda: dispatcher.status()[0].delivered >= count)  # acknowledged by the broker
    rate = dispatcher.status()[0].delivered / (time.perf_counter() - began)
    until(lambda: len(received) >= count, timeout=10)
    dispatcher.close()
    sub.loop_stop()
    print(f"  (subscriber received {len(received)} of {count})")
    return rate


def http_config(port: int) -> dict:
    return {"line_crossing": {"report": {"protocol": "http", "http": [
        {"enabled": True, "url": f"http://127.0.0.1:{port}/r"}, {}, {}]}}}


def http_rate(count: int, store: Path) -> float:
    port = free_port()
    server, got = receiver(port)
    dispatcher = Dispatcher(parse_config(http_config(port)), store)
    began = time.perf_counter()
    send_paced(dispatcher, count)
    until(lambda: len(got) >= count)
    rate = len(got) / (time.perf_counter() - began)
    dispatcher.close()
    server.shutdown()
    return rate


def drain(per_url: int, store: Path) -> tuple[int, float, bool]:
    """Three URLs down, ``per_url`` reports each queued, then all come back."""
    ports = [free_port() for _ in range(3)]
    urls = [{"enabled": True, "url": f"http://127.0.0.1:{p}/r"} for p in ports]
    config = parse_config({"line_crossing": {"report": {"protocol": "http", "http": urls}}})
    dispatcher = Dispatcher(config, store)
    for n in range(per_url):
        dispatcher.send(body(n))
    queued = sum(s.queued for s in dispatcher.status())
    servers = [receiver(p) for p in ports]
    began = time.perf_counter()
    until(lambda: sum(len(got) for _, got in servers) >= queued)
    spent = time.perf_counter() - began
    in_order = all([json.loads(b)["n"] for b in got] == list(range(per_url))
                   for _, got in servers)
    dispatcher.close()
    for server, _ in servers:
        server.shutdown()
    return queued, spent, in_order


def pipeline_rate(dead_broker: bool, store: Path, frames: int = 300) -> float:
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.output.jsonl_path = ""
    source = open_source(VIDEO, start_ts=0.0)
    pipeline = Pipeline(config, source.width, source.height, source.fps, 0.0)
    if dead_broker:
        for section in (config.region_counting, config.line_crossing, config.people_flow):
            section.report.protocol = "mqtt"  # type: ignore[assignment]
            section.report.mqtt.host, section.report.mqtt.port = "127.0.0.1", free_port()
        dispatcher = Dispatcher(config, store)
        pipeline.sinks.append(DispatcherSink(dispatcher, pipeline.snapshot))
    began = time.perf_counter()
    count = run_source(pipeline, source, max_frames=frames)
    rate = count / (time.perf_counter() - began)
    if dead_broker:
        dispatcher.close()
    return rate


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="occusense-bench-"))
    proc, port = mosquitto(work)
    try:
        print(f"MQTT QoS 0: {mqtt_rate(port, 0, 3000, work / 'q0.db'):8.0f} reports/s")
        print(f"MQTT QoS 1: {mqtt_rate(port, 1, 3000, work / 'q1.db'):8.0f} reports/s")
    finally:
        proc.terminate()
    print(f"HTTP:       {http_rate(1000, work / 'h.db'):8.0f} reports/s")
    queued, spent, in_order = drain(1000, work / "d.db")
    print(f"drain {queued} reports queued for 3 URLs after they came back: {spent:.1f} s"
          f" (each in order: {in_order})")
    none = pipeline_rate(False, work / "p0.db")
    dead = pipeline_rate(True, work / "p1.db")
    print(f"pipeline: {none:.1f} frames/s with no transport, {dead:.1f} with a dead broker")


if __name__ == "__main__":
    main()
