"""W2: the guide's downlink examples, Milesight's command objects (ff and f9
channels), all-or-nothing application to the configuration."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from occusense.config import DeviceConfig, load_config, save_config
from occusense.reports import downlink
from occusense.transports.lorawan.commands import apply


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
        ("ff4501", [{"people_counting_report_mode": "once_result_change"}]),
        ("ff032c0100", [{"from_now_on_report_interval": 300}]),
        # bytes worked out by hand from the field tables of Milesight's encoder
        ("ff4601 05", [{"people_count_jitter_config": {"enable": "enable", "time": 5}}]),
        ("ff6a00 2c01", [{"retransmission_interval": 300}]),
        ("ff35 0011223344556677", [{"d2d_key": "0011223344556677"}]),
        ("f98501 0a", [{"rejoin_config": {"enable": "enable", "max_count": 10}}]),
        ("f98900 04", [{"log_level": "debug"}]),
        ("f98b02", [{"lorawan_version": "v1.0.3"}]),
        ("f98d 08e6d333", [{"rx2_frequency": 869525000}]),
        ("f98e00 01 3412", [{"d2d_occupied_config": {"region": 1, "enable": "enable",
                                                      "command": "1234"}}]),
        ("f99000 01 01ab 7800", [{"d2d_vacant_config": {"region": 1, "enable": "enable",
                                                         "command": "ab01", "delay_time": 120}}]),
        ("f91104", [{"on_the_dot_report_interval": "1h"}]),
        ("f995 01 00 7f ce0400", [{"reset_cumulative_schedule": {
            "mode": "add", "index": 1, "time": 1230,
            "week_cycle": dict.fromkeys(("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
                                        "enable")}}]),
        ("f99600 01 01", [{"detect_region_config": {
            "enable": "disable", "detection_type": "unmapped_region",
            "reporting_type": "region_people_counting"}}]),
        ("f999 01 01 00 08 00 12 1e", [{"time_schedule": {
            "people_counting_type": "line_crossing_counting", "weekday": "mon", "period": 1,
            "start_hour": 8, "start_minute": 0, "end_hour": 18, "end_minute": 30}}]),
        ("f9b701 2c01", [{"region_people_counting_max_dwell_config": {
            "enable": "enable", "max_dwell_time": 300}}]),
        ("f9d501 01", [{"trigger_report_config": {"enable": "enable", "mode": "zero_to_nonzero"}}]),
        ("f9d8 01", [{"clear_all_cumulative_count": "yes"}]),
        ("f9dd00", [{"d2d_occupied_enable": "disable"}]),
    ],
)
def test_decode_and_encode_round_trip(hex_payload, commands) -> None:
    raw = bytes.fromhex(hex_payload.replace(" ", ""))
    assert downlink.decode(raw) == commands
    assert downlink.encode(commands) == raw


def test_every_command_round_trips_and_applies_or_notes() -> None:
    """Each command of the table: encode -> decode -> apply, with no crash and
    either a config change, an action, or a logged note for some valid value."""
    base = DeviceConfig.model_validate({
        "line_crossing": {"line": {"points": [[0.1, 0.5], [0.9, 0.5]]},
                          "uturn_area": [[0.1, 0.3], [0.9, 0.3], [0.9, 0.7], [0.1, 0.7]]},
        "region_counting": {"schedule": {"monday": {"enabled": False}}},
        "people_flow": {"area": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]},
    })
    for command in downlink.COMMANDS:
        effects = []
        for raw in _valid_values(command):
            (decoded,) = downlink.decode(raw)
            assert downlink.encode([decoded]) == raw, command.name
            try:
                result = apply(base, raw)
            except downlink.DownlinkError as exc:  # refused with its reason
                assert str(exc).strip(), command.name
                continue
            effects.append(result.config != base or result.reboot or result.rejoin
                           or bool(result.notes) or result.log_level is not None)
        assert effects and any(effects), command.name


CANDIDATES = (0, 1, 2, 4, 5, 30, 0x7F, 0xFF)


def _valid_values(command: downlink.Command) -> list[bytes]:
    """Commands with each part set to the k-th valid candidate byte."""
    out = []
    for k in range(len(CANDIDATES)):
        raw = bytes([command.channel, command.code])
        for part in command.parts:
            if part.action or part.key == "":  # fixed bytes: as the encoder writes them
                raw += part.write("yes" if part.action else None)
                continue
            valid = [c for c in CANDIDATES if _reads(part, bytes([c]) + bytes(part.size - 1))]
            if part.key in ("region", "index"):
                valid = [0]  # 1: the only D2D condition / reset schedule occusense has
            if part.key == "mode" and command.name == "reset_cumulative_schedule":
                valid = [1]  # add (delete would ignore the rest)
            raw += bytes([valid[k % len(valid)]]) + bytes(part.size - 1)
        out.append(raw)
    return out


def _reads(part: downlink.Part, raw: bytes) -> bool:
    try:
        part.read(raw)
    except downlink.DownlinkError:
        return False
    return True


def test_milesight_encoder_input_is_accepted_as_is() -> None:
    """One object, lists for repeatable commands, "no" for actions: as the
    integrators' encoder takes it."""
    payload = downlink.encode({
        "reboot": "no",
        "adr_enable": "enable",
        "work_schedule": [
            {"enable": "enable", "weekday": "sat", "period": 1, "start_hour": 9,
             "start_minute": 0, "end_hour": 12, "end_minute": 0},
            {"enable": "disable", "weekday": "sun", "period": 1, "start_hour": 0,
             "start_minute": 0, "end_hour": 23, "end_minute": 59},
        ],
        "time_config": {"mode": "sync_from_gateway"},
    })
    assert payload.hex() == "ff4001" "f9d701060009000c00" "f9d70000000000173b" "f9910000000000"
    cfg = apply(DeviceConfig(), payload).config
    for feature in (cfg.region_counting, cfg.line_crossing, cfg.people_flow):
        assert feature.schedule.saturday.periods[0].span == (540, 720)
        assert feature.schedule.sunday.periods[0].span == (0, 0)
    with pytest.raises(downlink.DownlinkError, match="weekday"):
        downlink.encode({"time_schedule": {"people_counting_type": "region_people_counting",
                                           "weekday": "someday", "period": 1, "start_hour": 0,
                                           "start_minute": 0, "end_hour": 1, "end_minute": 0}})
    with pytest.raises(downlink.DownlinkError, match="'time' is missing"):
        downlink.encode({"people_count_jitter_config": {"enable": "enable"}})


def test_guide_channel_mask_example_applies() -> None:
    payload = bytes.fromhex("ff0501ff00ff05020000ff05030000ff05040000ff05050000")
    result = apply(DeviceConfig(), payload)
    assert result.config.lorawan.channel_masks == [0xFF00, 0, 0, 0, 0, 0xFFFF]
    assert result.rejoin and not result.reboot


def test_settings_commands_change_the_config() -> None:
    payload = downlink.encode(
        [
            {"adr_enable": "disable"},
            {"confirm_mode_enable": "enable"},
            {"region_people_counting_enable": "disable"},
            {"people_count_change_report_enable": "enable"},
            {"people_counting_report_mode": "zero_to_nonzero"},
            {"line_detect_enable": "disable"},
            {"reboot": "yes"},
        ]
    )
    before = DeviceConfig()
    result = apply(before, payload)
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
        ("ff4002", r"01 \(enable\), got 02"),
        ("ff0507ffff", "id: expected an integer 1-6"),
        ("f98e01 01 0000", "region 1 only"),  # D2D conditions are on the total count
        ("f995 01 00 03 0000 00", "every day or on one weekday"),
        ("f98603", None),  # EU868 DR3 = SF9: valid, applied below
        ("f98607", "no 125 kHz data rate DR7"),
        ("f9b701 0100", "max_dwell_s must be 0"),  # max 1 s < min 2 s
        ("ff030100 00", "expected an integer 5-86400, got 1"),
        ("ff4001 ff40", "needs 1 byte"),  # a good command then a truncated one: nothing applies
    ],
)
def test_bad_downlinks_are_rejected_whole(hex_payload, message) -> None:
    before = DeviceConfig()
    raw = bytes.fromhex(hex_payload.replace(" ", ""))
    if message is None:
        assert apply(before, raw).config.lorawan.spreading_factor == 9
        return
    with pytest.raises(downlink.DownlinkError, match=message):
        apply(before, raw)
    assert before == DeviceConfig()


def test_report_and_schedule_commands_reach_every_feature() -> None:
    payload = downlink.encode([
        {"from_now_on_report_interval": 600},
        {"periodic_report_enable": "disable"},
        {"time_schedule_config": {"enable": "disable",
                                  "people_counting_type": "people_flow_analysis"}},
        {"region_people_counting_dwell_config": {"enable": "enable", "min_dwell_time": 10}},
        {"reset_cumulative_schedule": {"mode": "modify", "index": 1, "time": 75,
                                       "week_cycle": {"fri": "enable"}}},
        {"retransmission_interval": 120},
        {"report_with_timestamp": "yes"},
        {"d2d_key": "0011223344556677"},
    ])
    cfg = apply(DeviceConfig(), payload).config
    for feature in (cfg.region_counting, cfg.line_crossing, cfg.people_flow):
        assert (feature.report.interval_s, feature.report.periodic_enabled) == (600, False)
    assert (cfg.region_counting.dwell.enabled, cfg.region_counting.dwell.min_dwell_s) == (True, 10)
    reset = cfg.line_crossing.reset
    assert (reset.enabled, reset.day.value, reset.hour, reset.minute) == (True, "friday", 1, 15)
    assert cfg.general.retransmission_interval_s == 120
    assert cfg.lorawan.report_with_timestamp is True
    assert cfg.d2d.key_bytes == bytes.fromhex("0011223344556677") + bytes(8)


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
