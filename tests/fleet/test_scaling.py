"""Issue 20, beyond one machine (docs/fleet.md): what was measured here.
A site's reports reach a central broker through a mosquitto bridge, and the
cameras of a site share one remote inference server, asking it concurrently
so that its dynamic batching can join their requests."""

from __future__ import annotations

import json

from tests.detect.kserve_server import KServeServer
from tests.fleet.conftest import start_site, write_camera
from tests.transports.conftest import Broker, Subscriber, wait_for


def test_reports_reach_a_central_broker_through_a_bridge(tmp_path):
    (tmp_path / "central").mkdir()
    (tmp_path / "edge").mkdir()
    central = Broker(tmp_path / "central")
    edge = Broker(tmp_path / "edge", extra=(
        "connection central", f"address 127.0.0.1:{central.port}",
        "topic occusense/# out 1", "bridge_protocol_version mqttv311"))
    subscriber = Subscriber(central.port, "occusense/#", qos=1)
    report = {"protocol": "mqtt", "interval_s": 5, "trigger_enabled": True,
              "mqtt": {"host": "127.0.0.1", "port": edge.port, "topic": "occusense/hq/lobby",
                       "qos": 1}}
    root = tmp_path / "site"
    write_camera(root, "lobby", line_crossing={
        "enabled": True, "line": {"points": [[0.52, 0.17], [0.52, 0.87]]}, "report": report})
    site, follower = start_site(root, web=False)
    try:
        assert wait_for(lambda: any(m.get("event") == "Line Crossing Counting"
                                    for m in subscriber.messages), timeout=60)
        sent = site.service.cameras["lobby"].state.config.device.serial_number
        assert all(m["device_info"]["device_sn"] == sent for m in subscriber.messages)
    finally:
        site.service.stop()
        follower.join(timeout=10)
        subscriber.close()
        edge.stop()
        central.stop()


def test_a_sites_cameras_share_one_remote_detector_concurrently(tmp_path):
    server = KServeServer()
    root = tmp_path / "site"
    for camera in ("lobby", "entrance", "yard"):
        write_camera(root, camera, detector={"remote_url": server.url})
    site, follower = start_site(root, web=False)
    try:
        assert site.running("lobby", "entrance", "yard", timeout=60)
        assert wait_for(lambda: server.requests > 30, timeout=60)
        engines = {id(c.runner.pipeline.finder.detector.engine._engine)
                   for c in site.service.cameras.values()}
        assert len(engines) == 1  # one client, one connection pool
        assert server.most_at_once >= 2  # the cameras' requests overlapped at the server
        people = [c.state.counts.get("people") for c in site.service.cameras.values()]
        assert all(p is not None for p in people)
    finally:
        site.service.stop()
        follower.join(timeout=10)
        server.stop()
    assert json.dumps(site.service.problems) == "[]"
