"""W2: the guide's downlink examples, Milesight's command objects, all-or-nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from occusense.config import DeviceConfig, load_config, save_config
from occusense.reports import downlink


@pytest.mark.parametrize(
    ("hex_payload", "commands"),
    [
        ("ff4200", [{"wifi_enable": "disable"}]),
        ("ff10ff", [{"reboot": "yes"}]),
        ("ff4001", [{"adr_enable": "enable"}]),
        (
            "ff0501ff00ff05020000",
            [
                {"lora_channel_mask": {"id": 1, "mask": 0xFF00}},
                {"lora_channel_mask": {"id": 2, "mask": 0}},
            ],
        ),
        ("ff4155", [{"lora_port": 85}]),
        ("ff4501", [{"people_counting_report_mode": "every_change"}]),
        ("ff032c0100", [{"from_now_on_report_interval": 300}]),
    ],
)
def test_decode_and_encode_round_trip(hex_payload, commands) -> None:
    assert downlink.decode(bytes.fromhex(hex_payload)) == commands
    assert downlink.encode(commands).hex() == hex_payload


def test_guide_channel_mask_example_applies() -> None:
    payload = bytes.fromhex("ff0501ff00ff05020000ff05030000ff05040000ff05050000")
    result = downlink.apply(DeviceConfig(), payload)
    assert result.config.lorawan.channel_masks == [0xFF00, 0, 0, 0, 0, 0xFFFF]
    assert result.rejoin and not result.reboot


def test_settings_commands_change_the_config() -> None:
    payload = downlink.encode(
        [
            {"adr_enable": "disable"},
            {"confirm_mode_enable": "enable"},
            {"region_people_counting_enable": "disable"},
            {"people_count_change_report_enable": "enable"},
            {"people_counting_report_mode": "zero_nonzero"},
            {"line_detect_enable": "disable"},
            {"reboot": "yes"},
        ]
    )
    before = DeviceConfig()
    result = downlink.apply(before, payload)
    cfg = result.config
    assert (cfg.lorawan.adr, cfg.lorawan.confirmed) == (False, True)
    assert cfg.region_counting.enabled is False
    assert cfg.region_counting.report.report_by_result is True
    assert cfg.region_counting.report.result_mode.value == "zero_nonzero"
    assert result.reboot
    assert before.lorawan.adr is True  # the input is never modified


@pytest.mark.parametrize(
    ("hex_payload", "message"),
    [
        ("", "empty"),
        ("ff", "truncated"),
        ("ff40", "needs 1 byte"),
        ("ff99 00", "unknown command"),
        ("0140 01", "unknown command"),
        ("ff4002", r"00 \(disable\) or 01 \(enable\)"),
        ("ff0507ffff", "index range"),
        ("ff030100 00", "greater than or equal to 5"),
        ("ff4001 ff40", "needs 1 byte"),  # a good command then a truncated one: nothing applies
    ],
)
def test_bad_downlinks_are_rejected_whole(hex_payload, message) -> None:
    before = DeviceConfig()
    with pytest.raises(downlink.DownlinkError, match=message):
        downlink.apply(before, bytes.fromhex(hex_payload.replace(" ", "")))
    assert before == DeviceConfig()


def test_cli_applies_and_persists_or_rejects(tmp_path) -> None:
    path = tmp_path / "device.yaml"
    save_config(DeviceConfig(), path)
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "occusense.cli",
            "lorawan",
            "downlink",
            "ff4000",
            "--config",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(ok.stdout)["applied"] == [{"adr_enable": "disable"}]
    assert load_config(path).lorawan.adr is False
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "occusense.cli",
            "lorawan",
            "downlink",
            "ff4101ff",
            "--config",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "rejected" in bad.stderr
    assert load_config(path).lorawan.application_port == 85
