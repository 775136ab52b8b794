"""W4: the D2D controller's Occupied/Vacant logic and its authenticated frame."""

from __future__ import annotations

import socket

import pytest

from occusense.config.device import D2DSettings
from occusense.errors import OccusenseError
from occusense.transports.d2d import D2DController, UdpD2DSender, decode_frame, encode_frame

KEY = bytes.fromhex("5572404C696E6B4C6F52613230313823")


def run(controller: D2DController, totals: list[tuple[float, int]]) -> list[tuple[float, str]]:
    events = []
    for ts, total in totals:
        event = controller.update(ts, total)
        if event:
            events.append((ts, event.state))
    return events


def test_occupied_at_once_vacant_after_the_delay() -> None:
    controller = D2DController(D2DSettings(enabled=True, vacant_delay_s=60))
    totals = [(0, 0), (10, 2), (20, 3), (30, 0), (60, 0), (89, 0), (90, 0), (95, 0), (100, 1)]
    assert run(controller, totals) == [(10, "occupied"), (90, "vacant"), (100, "occupied")]


def test_a_short_absence_does_not_switch_off() -> None:
    controller = D2DController(D2DSettings(enabled=True, vacant_delay_s=60))
    totals = [(0, 1), (10, 0), (50, 0), (55, 1), (100, 1), (110, 0), (169, 0)]
    assert run(controller, totals) == [(0, "occupied")]


def test_disabled_commands_are_not_sent_but_state_follows() -> None:
    controller = D2DController(D2DSettings(enabled=True, occupied_enabled=False,
                                           vacant_delay_s=1))
    assert run(controller, [(0, 1), (1, 0), (3, 0), (4, 1)]) == [(3, "vacant")]


def test_frame_round_trip_and_tamper_detection() -> None:
    frame = encode_frame(KEY, bytes.fromhex("0001"), 7)
    assert len(frame) == 11 and frame[:7].hex() == "01000107000000"
    assert decode_frame(KEY, frame) == (bytes.fromhex("0001"), 7)
    forged = frame[:1] + b"\x00\x02" + frame[3:]
    with pytest.raises(OccusenseError, match="MIC"):
        decode_frame(KEY, forged)
    with pytest.raises(OccusenseError, match="MIC"):
        decode_frame(bytes(16), frame)
    with pytest.raises(OccusenseError, match="not a D2D frame"):
        decode_frame(KEY, frame[:10])


def test_frames_reach_a_real_udp_agent() -> None:
    agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agent.bind(("127.0.0.1", 0))
    agent.settimeout(5)
    sender = UdpD2DSender(KEY, "127.0.0.1", agent.getsockname()[1], start_counter=100)
    sender.send(bytes.fromhex("0000"))
    sender.send(bytes.fromhex("0001"))
    received = [decode_frame(KEY, agent.recv(64)) for _ in range(2)]
    assert received == [(b"\x00\x00", 101), (b"\x00\x01", 102)]
    sender.close()
    agent.close()


def test_the_running_sensor_sends_occupied_on_the_sample(tmp_path, sample_video) -> None:
    from occusense.config import load_config
    from occusense.runner import SensorRunner
    from occusense.sources import open_source
    from occusense.web.state import SensorState
    from tests.conftest import REPO

    agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agent.bind(("127.0.0.1", 0))
    agent.settimeout(10)
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.output.jsonl_path = ""
    config.state_dir = str(tmp_path)
    config.d2d.enabled = True
    config.d2d.udp_host, config.d2d.udp_port = "127.0.0.1", agent.getsockname()[1]
    runner = SensorRunner(SensorState(config), open_source(str(sample_video)), 0.0, [])
    runner.run(max_frames=20)
    command, _ = decode_frame(KEY, agent.recv(64))
    assert command == bytes.fromhex(config.d2d.occupied_command)
    agent.close()
