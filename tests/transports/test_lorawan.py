"""W3: the LoRaWAN 1.0.3 end device against a network server on real UDP,
every frame checked independently by the npm package lora-packet."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from occusense.config import load_config, parse_config
from occusense.reports import lorawan as codec
from occusense.reports.reporter import Report
from occusense.transports.lorawan import frames, mac
from occusense.transports.lorawan.device import EndDevice
from occusense.transports.lorawan.frames import DataFrame, FrameError, MType
from occusense.transports.lorawan.uplinks import LoRaWANSink
from tests.conftest import REPO
from tests.transports.lorawan_peer import NetworkServer, QueuedDownlink

APP_KEY = bytes.fromhex("5572404C696E6B4C6F52613230313823")
CHECKER = REPO / "tests" / "js" / "check_frames.js"


def lora_packet(items: list[dict]) -> list[dict]:
    """Frames parsed and MIC-checked by lora-packet (node)."""
    assert shutil.which("node"), "node is needed (scripts/install.sh)"
    assert (REPO / "tests" / "js" / "node_modules" / "lora-packet").is_dir(), (
        "run scripts/install.sh: it installs lora-packet into tests/js"
    )
    lines = "\n".join(json.dumps(i) for i in items) + "\n"
    done = subprocess.run(
        ["node", str(CHECKER)], input=lines, capture_output=True, text=True, check=True,
        timeout=60,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def check_all(server: NetworkServer) -> list[dict]:
    """Every frame the server saw or sent, through lora-packet; all MICs valid."""
    keys = {
        "app_key": APP_KEY.hex(),
        "nwk_s_key": server.nwk_s_key.hex(),
        "app_s_key": server.app_s_key.hex(),
    }
    items = [{"phy": s.phy.hex(), **keys} for s in server.frames_seen]
    checked = lora_packet(items)
    bad = [c for c in checked if not c.get("mic_ok")]
    assert not bad, bad
    return checked


def settings(server: NetworkServer, **extra) -> dict:
    return {
        "lorawan": {
            "enabled": True,
            "server_port": server.port,
            "gateway_eui": "AA555A0000000001",
            **extra,
        }
    }


@pytest.fixture
def server():
    peer = NetworkServer(APP_KEY)
    yield peer
    peer.close()


def make_device(server, tmp_path, received=None, **extra) -> EndDevice:
    config = parse_config(settings(server, **extra))
    sink = received if received is not None else []
    return EndDevice(lambda: config.lorawan, tmp_path, lambda port, data: sink.append(data))


# -- frames, checked by lora-packet ---------------------------------------------
def test_frames_built_by_occusense_are_read_by_lora_packet() -> None:
    nwk, app = bytes(range(16)), bytes(range(16, 32))
    request = frames.join_request(APP_KEY, "24E124C0002A0001", "24E124C0002A0000", 7)
    up = DataFrame(MType.confirmed_up, 0x26011BDA, 0x12345, port=85,
                   payload=bytes.fromhex("04c9030400050d"), adr=True, fopts=b"\x02")
    empty = DataFrame(MType.unconfirmed_up, 0x26011BDA, 3, fopts=b"\x06\x00\x0a")
    checked = lora_packet(
        [
            {"phy": request.hex(), "app_key": APP_KEY.hex()},
            {"phy": frames.build_data(up, nwk, app).hex(), "nwk_s_key": nwk.hex(),
             "app_s_key": app.hex(), "fcnt_msb": "0100"},  # upper 16 bits, LE
            {"phy": frames.build_data(empty, nwk, app).hex(), "nwk_s_key": nwk.hex(),
             "app_s_key": app.hex()},
        ]
    )
    join, data, mac_only = checked
    assert join["mtype"] == "Join Request" and join["mic_ok"]
    assert join["app_eui"] == "24e124c0002a0001" and join["dev_eui"] == "24e124c0002a0000"
    assert data["mic_ok"] and data["mtype"] == "Confirmed Data Up"
    assert (data["fcnt"], data["port"], data["adr"]) == (0x2345, 85, True)
    assert data["payload"] == "04c9030400050d" and data["dev_addr"] == "26011bda"
    assert data["fopts"] == "02"
    assert mac_only["mic_ok"] and mac_only["port"] is None and mac_only["fopts"] == "06000a"


def test_a_tampered_replayed_or_truncated_downlink_is_refused() -> None:
    nwk, app = bytes(16), bytes(range(16))
    down = frames.build_data(
        DataFrame(MType.unconfirmed_down, 1, 5, port=85, payload=b"\xff\x44\x00"), nwk, app
    )
    assert frames.open_data(down, nwk, app, 4).payload == b"\xff\x44\x00"
    with pytest.raises(FrameError, match="replayed"):
        frames.open_data(down, nwk, app, 5)
    with pytest.raises(FrameError, match="MIC"):
        frames.open_data(down[:-5] + bytes([down[-5] ^ 1]) + down[-4:], nwk, app, 4)
    with pytest.raises(FrameError, match="at least 12 bytes"):
        frames.open_data(down[:9], nwk, app, None)
    # a 16-bit counter that wrapped is followed to its 32-bit value
    wrapped = frames.build_data(DataFrame(MType.unconfirmed_down, 1, 0x10002, port=1), nwk, app)
    assert frames.open_data(wrapped, nwk, app, 0xFFF0).fcnt == 0x10002


# -- MAC commands -------------------------------------------------------------------
def radio() -> mac.RadioState:
    return mac.RadioState.initial(mac.plan_for("EU868"), 2, [0xFFFF] * 6)


def test_link_adr_req_is_applied_whole_or_not_at_all() -> None:
    state = radio()
    done = mac.handle(bytes([0x03, 0x53, 0x03, 0x00, 0x01]), state)  # DR5, power 3, ch 0-1
    assert done.answers == bytes([0x03, 0b111])
    assert (state.data_rate, state.tx_power, state.enabled) == (5, 3, {0, 1})
    done = mac.handle(bytes([0x03, 0x21, 0x00, 0x80, 0x01]), state)  # channel 15 unknown
    assert done.answers == bytes([0x03, 0b110])
    assert (state.data_rate, state.tx_power, state.enabled) == (5, 3, {0, 1})


def test_status_rx_params_and_unknown_commands() -> None:
    state = radio()
    freq = (869_525_000 // 100).to_bytes(3, "little")
    done = mac.handle(bytes([0x06, 0x05, 0x13]) + freq + bytes([0x7F, 0x06]), state, snr=7)
    assert done.answers[:3] == bytes([0x06, 0x00, 0x07])  # external power, margin 7 dB
    assert done.answers[3:] == bytes([0x05, 0b111])
    assert (state.rx1_dr_offset, state.rx2_data_rate) == (1, 3)
    assert any("unknown MAC command 0x7f" in n for n in done.notes)  # the rest ignored


def test_an_unsupported_region_is_a_clear_error() -> None:
    with pytest.raises(FrameError, match="not supported"):
        mac.plan_for("CN470")


# -- the end device against the network server ------------------------------------------
def test_otaa_join_uplinks_and_downlinks(server, tmp_path: Path) -> None:
    received: list[bytes] = []
    device = make_device(server, tmp_path, received)
    try:
        assert device.join()
        assert device.session.dev_addr == server.dev_addr
        assert device.session.nwk_s_key == server.nwk_s_key.hex()
        assert device.send(bytes.fromhex("04c9030400050d")).sent
        server.downlinks.append(QueuedDownlink(port=85, payload=bytes.fromhex("ff4400")))
        assert device.send(bytes.fromhex("05cc02000100")).downlinks == 1
        assert received == [bytes.fromhex("ff4400")]
        # a MAC command in FOpts is answered in the next uplink
        server.downlinks.append(QueuedDownlink(fopts=bytes([0x06])))
        device.send(b"\x06\xcd\x04")
        device.send(b"\x06\xcd\x05")
        ups = server.uplinks()
        assert [u.payload.hex() for u in ups] == ["04c9030400050d", "05cc02000100", "06cd04",
                                                  "06cd05"]
        assert [u.fcnt for u in ups] == [0, 1, 2, 3]
        assert all(u.port == 85 and u.adr for u in ups)
        assert ups[3].fopts[:1] == b"\x06"  # DevStatusAns
        assert server.tx_acks and all(a["txpk_ack"]["error"] == "NONE" for a in server.tx_acks)
        checked = check_all(server)
        assert [c["mtype"] for c in checked[:2]] == ["Join Request", "Join Accept"]
    finally:
        device.close()


def test_a_cf_list_adds_channels_the_uplinks_then_use(server, tmp_path: Path) -> None:
    extra = (867_100_000, 867_300_000, 867_500_000, 867_700_000, 0)
    server.cf_list = b"".join((f // 100).to_bytes(3, "little") for f in extra) + b"\x00"
    device = make_device(server, tmp_path)
    try:
        assert device.join()
        assert sorted(device.radio.enabled) == [0, 1, 2, 3, 4, 5, 6]
        for n in range(7):
            device.send(bytes([0x06, 0xCD, n]))
    finally:
        device.close()
    checked = check_all(server)  # lora-packet reads the 33-byte JoinAccept too
    assert checked[1]["mtype"] == "Join Accept"
    used = {s.freq_hz for s in server.frames_seen if s.kind == "up"}
    assert set(extra[:4]) <= used


def test_counters_survive_a_restart_and_a_confirmed_uplink_is_resent_once(
    server, tmp_path: Path
) -> None:
    device = make_device(server, tmp_path, confirmed=True)
    try:
        assert device.join()
        assert device.send(b"\x06\xcd\x01").acked
        assert device.send(b"\x06\xcd\x02").acked
    finally:
        device.close()
    server.ack_confirmed = False
    again = make_device(server, tmp_path, confirmed=True)  # a restart: same state folder
    try:
        assert again.joined  # no new join
        result = again.send(b"\x06\xcd\x03")
        assert result.sent and result.acked is False
    finally:
        again.close()
    ups = server.uplinks()
    # the counter went on after the restart; the unacknowledged uplink went
    # out once more with the same counter (the guide: "resend data once")
    assert [u.fcnt for u in ups] == [0, 1, 2]
    assert server.count("retry") == 1
    assert server.count("join_request") == 1
    check_all(server)


def test_no_join_accept_then_join_later(server, tmp_path: Path) -> None:
    server.answer_joins = False
    device = make_device(server, tmp_path)
    try:
        assert not device.join()
        assert not device.joined
        server.answer_joins = True
        assert device.join()
        # each JoinRequest had its own DevNonce
        nonces = {s.phy[17:19] for s in server.frames_seen if s.kind == "join_request"}
        assert len(nonces) == 2
    finally:
        device.close()


def test_abp_sends_at_once_with_the_configured_keys(server, tmp_path: Path) -> None:
    nwk, app = "2B7E151628AED2A6ABF7158809CF4F3C", "000102030405060708090A0B0C0D0E0F"
    server.use_abp(0x01020304, bytes.fromhex(nwk), bytes.fromhex(app))
    device = make_device(
        server, tmp_path, join_type="abp", dev_addr="01020304", nwk_s_key=nwk, app_s_key=app
    )
    try:
        assert device.joined
        assert device.send(b"\x05\xcc\x01\x00\x00\x00").sent
        assert server.uplinks()[0].payload == b"\x05\xcc\x01\x00\x00\x00"
        check_all(server)
    finally:
        device.close()


def test_a_corrupt_session_file_is_kept_aside(server, tmp_path: Path) -> None:
    (tmp_path / "lorawan-session.json").write_text("{not json")
    device = make_device(server, tmp_path)
    try:
        assert not device.joined
        assert list(tmp_path.glob("lorawan-session.json.corrupt-*"))
        assert device.join()
        assert (tmp_path / "lorawan-session.json").stat().st_mode & 0o777 == 0o600
    finally:
        device.close()


# -- reports as uplinks, and history when the network is away --------------------------
ABP = {"join_type": "abp", "dev_addr": "01020304",
       "nwk_s_key": "2B7E151628AED2A6ABF7158809CF4F3C",
       "app_s_key": "000102030405060708090A0B0C0D0E0F"}


def region_report(counts: list[int]) -> Report:
    return Report("region", {
        "event": "Region People Counting", "report_type": "interval",
        "current_total": sum(counts), "total_mapped_regions": len(counts),
        "current_counted": counts, "max_counted": max(counts),
    })


def abp_sink(server, tmp_path: Path, **extra) -> LoRaWANSink:
    server.use_abp(0x01020304, bytes.fromhex(ABP["nwk_s_key"]), bytes.fromhex(ABP["app_s_key"]))
    config = parse_config({**settings(server, **ABP, **extra), "state_dir": str(tmp_path),
                           "general": {"retransmission_interval_s": 30}})
    device = EndDevice(lambda: config.lorawan, tmp_path, lambda port, data: None)
    return LoRaWANSink(device, "6600b0940976", lambda: config)


def wait_for(condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_reports_lost_in_an_outage_go_up_later_as_history(server, tmp_path: Path) -> None:
    server.reachable = False
    sink = abp_sink(server, tmp_path, report_with_timestamp=True)
    try:
        before = time.time()
        sink.send(region_report([2, 0, 1]))
        wait_for(lambda: len(sink.history) > 0)  # the uplink got no PUSH_ACK
        assert (tmp_path / "lorawan-history.json").stat().st_mode & 0o777 == 0o600
        server.reachable = True
        sink.send(region_report([1, 1, 1]))
        wait_for(lambda: any(u.payload[:2] == b"\x20\xce" for u in server.uplinks()))
        wait_for(lambda: len(sink.history) == 0)
    finally:
        sink.close()
    live, history = (codec.decode(u.payload) for u in server.uplinks()[-2:])
    assert live["region_1_count"] == 1 and live["timestamp"] >= int(before)  # 0f85 added
    first, second, maximum = history["history"]  # 07d5 is split in two, as Milesight reads it
    assert first["region_1_count"] == 2 and first["region_3_count"] == 1
    assert second["region_5_count"] == 0 and maximum["people_count_max"] == 2
    assert int(before) <= first["timestamp"] <= time.time()
    check_all(server)


def test_queued_reports_are_kept_at_shutdown_and_a_corrupt_store_set_aside(
    server, tmp_path: Path
) -> None:
    (tmp_path / "lorawan-history.json").write_text("[not json")
    server.reachable = False
    sink = abp_sink(server, tmp_path)
    assert list(tmp_path.glob("lorawan-history.json.corrupt-*"))
    for n in range(3):
        sink.send(region_report([n, 1]))
    sink.close()  # one uplink in flight at most: the rest were still queued
    again = abp_sink(server, tmp_path)
    try:
        records = codec.decode(b"".join(again.history.batch(10_000)))["history"]
        assert [r["region_1_count"] for r in records if "region_1_count" in r] == [0, 1, 2]
    finally:
        again.close()


# -- the whole sensor -------------------------------------------------------------------
def test_occusense_run_joins_reports_and_applies_a_downlink(
    server, tmp_path: Path, sample_video
) -> None:
    config = yaml.safe_load((REPO / "examples" / "vtest.yaml").read_text())
    config.update(settings(server))
    config["state_dir"] = str(tmp_path / "state")
    config["output"] = {"jsonl_path": ""}
    path = tmp_path / "lorawan.yaml"
    path.write_text(yaml.safe_dump(config))
    # the first counters uplink gets: people_count_change_report_enable -> disable
    server.downlinks.append(QueuedDownlink(port=85, payload=bytes.fromhex("ff4400")))
    run = subprocess.run(
        [sys.executable, "-m", "occusense.cli", "run", "--config", str(path), "--source",
         str(sample_video), "--max-frames", "120", "--no-web", "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    ups = server.uplinks()
    assert server.count("join_request") >= 1 and server.count("join_accept") >= 1
    assert ups[0].payload[:2] == b"\xff\x01"  # device info first
    assert any(u.payload[:2] in (b"\x04\xc9", b"\x07\xd5") for u in ups[1:])
    # applied to the running sensor's copy in its state folder, not to the seed file
    saved = load_config(tmp_path / "state" / "config.yaml")
    assert saved.region_counting.report.report_by_result is False
    assert load_config(path).region_counting.report.report_by_result is True
    assert "ff4400 applied" in run.stderr
    check_all(server)
    assert server.pull_data >= 1
    time.sleep(0)  # nothing left running: the CLI has exited


# -- the integrators' CLI -------------------------------------------------------------
def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "occusense.cli", "lorawan", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_downlink_cli_encodes_and_decodes_milesight_commands() -> None:
    encoded = cli("encode-downlink", '[{"wifi_enable": "disable"}, {"lora_port": 85}]')
    assert encoded.returncode == 0 and encoded.stdout.strip() == "ff4200ff4155"
    decoded = cli("decode-downlink", "ff4200ff4155")
    assert json.loads(decoded.stdout) == [{"wifi_enable": "disable"}, {"lora_port": 85}]
    truncated = cli("decode-downlink", "ff4200ff41")
    assert truncated.returncode == 2 and "lora_port at byte 3" in truncated.stderr
    unknown = cli("encode-downlink", '{"no_such_command": 1}')
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr
