"""Issue 27 (N1): the sensor's own RTSP stream, read by a real RTSP client
(OpenCV's FFmpeg) over TCP and over UDP; none in Blur; a taken port is one
clear error and the sensor counts on."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading

import pytest

from occusense.config import load_config
from occusense.config.device import PrivacyMode, RtspSettings
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.state import SensorState
from tests.conftest import REPO, SAMPLE_VIDEO
from tests.transports.conftest import free_port, wait_for

CLIENT = """
import cv2, json, sys, time
capture = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
ok, frame = capture.read()
if not ok:
    print(json.dumps({"frames": 0})); sys.exit()
for _ in range(20):  # what was buffered at the start
    capture.read()
began, frames = time.time(), 0
while time.time() - began < 8:
    ok, frame = capture.read()
    frames += ok
print(json.dumps({"frames": frames, "seconds": time.time() - began,
                  "size": [frame.shape[1], frame.shape[0]]}))
"""


def watch(url: str, transport: str) -> dict:
    env = dict(os.environ, OPENCV_FFMPEG_CAPTURE_OPTIONS=f"rtsp_transport;{transport}")
    run = subprocess.run([sys.executable, "-c", CLIENT, url], env=env, capture_output=True,
                         text=True, timeout=90)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def sensor(tmp_path, **rtsp):
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.output.jsonl_path = ""
    config.rtsp = RtspSettings(enabled=True, **rtsp)
    state = SensorState(config)
    runner = SensorRunner(state, open_source(str(SAMPLE_VIDEO), realtime=True, loop=True),
                          0.0, [])
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    assert wait_for(lambda: state.run.frames > 5, timeout=60)
    return state, runner, thread


@pytest.mark.parametrize(("packet", "transport"), [("compatibility", "tcp"),
                                                    ("performance", "udp")])
def test_a_real_client_plays_the_stream_at_the_sources_rate(tmp_path, packet, transport):
    port = free_port()
    state, runner, thread = sensor(tmp_path, port=port, rtp_packet=packet, dscp=46)
    try:
        seen = watch(f"rtsp://127.0.0.1:{port}/main", transport)
        assert seen["size"] == [768, 576]
        rate = seen["frames"] / seen["seconds"]
        assert 6 <= rate <= 14, seen  # the sample's 10 frames/s
        assert state.run.frames > 40  # counting went on meanwhile
    finally:
        runner.stop()
        thread.join(timeout=10)


def test_there_is_no_stream_in_blur_mode(tmp_path, caplog):
    port = free_port()
    with caplog.at_level(logging.WARNING):
        config_blur = {"port": port}
        config = load_config(REPO / "examples" / "vtest.yaml")
        config.state_dir = str(tmp_path / "state")
        config.output.jsonl_path = ""
        config.privacy_mode = PrivacyMode.blur
        config.rtsp = RtspSettings(enabled=True, **config_blur)
        runner = SensorRunner(SensorState(config), open_source(str(SAMPLE_VIDEO)), 0.0, [])
        runner.run(max_frames=10)
    assert runner.rtsp is None
    assert "RTSP output is off in Blur privacy mode" in caplog.text
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens


def test_a_taken_port_is_one_clear_error_and_the_sensor_counts_on(tmp_path, caplog):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = load_config(REPO / "examples" / "vtest.yaml")
        config.state_dir = str(tmp_path / "state")
        config.output.jsonl_path = ""
        config.rtsp = RtspSettings(enabled=True, port=port)
        with caplog.at_level(logging.ERROR):
            runner = SensorRunner(SensorState(config), open_source(str(SAMPLE_VIDEO)), 0.0, [])
            assert runner.run(max_frames=20) == 20
    assert f"rtsp.port {port}: cannot listen there" in caplog.text
    assert caplog.text.count("cannot listen there") == 1


SHORT_CLIENT = """
import cv2, json, sys
capture = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
frames, size = 0, None
for _ in range(30):
    ok, frame = capture.read()
    if not ok:
        break
    frames, size = frames + 1, [frame.shape[1], frame.shape[0]]
print(json.dumps({"frames": frames, "size": size}))
"""


def frames_from(url: str) -> dict:
    env = dict(os.environ, OPENCV_FFMPEG_CAPTURE_OPTIONS="rtsp_transport;tcp")
    run = subprocess.run([sys.executable, "-c", SHORT_CLIENT, url], env=env,
                         capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_site_serves_every_camera_on_one_port_at_its_id(tmp_path):
    """In a site, one RTSP server: rtsp://HOST:PORT/<id> for each camera whose
    file enables its stream; the cameras page's API names each URL."""
    from tests.fleet.conftest import start_site, write_camera
    from tests.fleet.test_site_web import activated

    port = free_port()
    root = tmp_path / "site"
    write_camera(root, "lobby", rtsp={"enabled": True, "port": 9, "overlays": True})
    write_camera(root, "entrance", rtsp={"enabled": True})
    write_camera(root, "yard")  # no stream
    (root / "site.yaml").write_text(f"web:\n  secure_cookies: false\nrtsp:\n  port: {port}\n")
    site, follower = start_site(root)
    try:
        assert site.running("lobby", "entrance", "yard", timeout=60)
        for path in ("lobby", "entrance", "lobby/overlay"):
            seen = frames_from(f"rtsp://127.0.0.1:{port}/{path}")
            assert seen["frames"] >= 20 and seen["size"] == [768, 576], (path, seen)
        assert frames_from(f"rtsp://127.0.0.1:{port}/yard")["frames"] == 0
        answer = activated(site).get("/api/cameras")
        cameras = {c["id"]: c for c in answer.json()["cameras"]}
        assert cameras["lobby"]["stream"]["url"] == f"rtsp://127.0.0.1:{port}/lobby"
        assert cameras["entrance"]["stream"]["url"] == f"rtsp://127.0.0.1:{port}/entrance"
        assert cameras["yard"]["stream"] == {"url": "", "problem": "off (rtsp.enabled)"}
        # a camera removed takes its stream off the server; the others stay
        site.service.remove("entrance")
        assert frames_from(f"rtsp://127.0.0.1:{port}/entrance")["frames"] == 0
        assert frames_from(f"rtsp://127.0.0.1:{port}/lobby")["frames"] >= 20
    finally:
        site.server.stop()  # type: ignore[attr-defined]
        site.service.stop()
        follower.join(timeout=10)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # the service stopped it
