"""VS121 LoRaWAN downlink commands (SPEC W2, guide section 6.2).

A downlink is a sequence of ``ff, type, value`` records. :func:`decode`
turns one into command objects named as in Milesight's public VS121 codec
(``{"adr_enable": "enable"}`` <-> ``ff4001``); :func:`encode` does the
reverse (for tools and tests); :func:`apply` validates every command of a
downlink and the configuration it would produce before changing anything,
so a malformed, truncated or unknown command is rejected whole, with its
reason, and never half-applied.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from occusense.config import DeviceConfig, config_to_dict, parse_config
from occusense.errors import ConfigError, OccusenseError

ENABLE = {0: "disable", 1: "enable"}
REPORT_MODE = {0: "zero_nonzero", 1: "every_change"}


class DownlinkError(OccusenseError):
    """A downlink that is malformed, truncated, unknown or out of range."""


@dataclass(frozen=True)
class _Command:
    name: str
    size: int


COMMANDS: dict[int, _Command] = {
    0x03: _Command("from_now_on_report_interval", 3),
    0x04: _Command("confirm_mode_enable", 1),
    0x05: _Command("lora_channel_mask", 3),
    0x10: _Command("reboot", 1),
    0x40: _Command("adr_enable", 1),
    0x41: _Command("lora_port", 1),
    0x42: _Command("wifi_enable", 1),
    0x43: _Command("report_regularly_enable", 1),
    0x44: _Command("people_count_change_report_enable", 1),
    0x45: _Command("people_counting_report_mode", 1),
    0x48: _Command("line_detect_enable", 1),
    0x50: _Command("region_people_counting_enable", 1),
}
BY_NAME = {c.name: code for code, c in COMMANDS.items()}


def _enable(value: int, name: str) -> str:
    if value not in ENABLE:
        raise DownlinkError(f"{name}: 00 (disable) or 01 (enable) expected, got {value:02x}")
    return ENABLE[value]


def _read(code: int, raw: bytes) -> dict[str, Any]:
    name = COMMANDS[code].name
    if code == 0x03:
        return {name: int.from_bytes(raw, "little")}
    if code == 0x05:
        if not 1 <= raw[0] <= 6:
            raise DownlinkError(f"lora_channel_mask: index range 01-06 expected, got {raw[0]:02x}")
        return {name: {"id": raw[0], "mask": struct.unpack(">H", raw[1:3])[0]}}
    if code == 0x10:
        return {name: "yes"}
    if code == 0x41:
        return {name: raw[0]}
    if code == 0x45:
        if raw[0] not in REPORT_MODE:
            raise DownlinkError(f"people_counting_report_mode: 00 or 01 expected, got {raw[0]:02x}")
        return {name: REPORT_MODE[raw[0]]}
    return {name: _enable(raw[0], name)}


def decode(payload: bytes) -> list[dict[str, Any]]:
    """Downlink bytes -> commands, or :class:`DownlinkError` (nothing partial)."""
    if not payload:
        raise DownlinkError("empty downlink")
    commands = []
    i = 0
    while i < len(payload):
        if i + 2 > len(payload):
            raise DownlinkError(f"truncated command at byte {i}")
        channel, code = payload[i], payload[i + 1]
        if channel != 0xFF or code not in COMMANDS:
            raise DownlinkError(f"unknown command {channel:02x}{code:02x} at byte {i}")
        command = COMMANDS[code]
        raw = payload[i + 2 : i + 2 + command.size]
        if len(raw) < command.size:
            raise DownlinkError(
                f"{command.name} at byte {i} needs {command.size} byte(s), got {len(raw)}"
            )
        try:
            commands.append(_read(code, raw))
        except DownlinkError as exc:
            raise DownlinkError(f"{exc} (at byte {i})") from None
        i += 2 + command.size
    return commands


def encode(commands: list[dict[str, Any]]) -> bytes:
    """Command objects -> downlink bytes (the inverse of :func:`decode`)."""
    out = b""
    for command in commands:
        for name, value in command.items():
            if name not in BY_NAME:
                raise DownlinkError(f"unknown command {name!r}")
            code = BY_NAME[name]
            out += bytes([0xFF, code]) + _value(code, name, value)
    return out


def _value(code: int, name: str, value: Any) -> bytes:
    if code == 0x03:
        return int(value).to_bytes(3, "little")
    if code == 0x05:
        return bytes([value["id"]]) + struct.pack(">H", value["mask"])
    if code == 0x10:
        return b"\xff"
    if code == 0x41:
        return bytes([int(value)])
    if code == 0x45:
        return bytes([{v: k for k, v in REPORT_MODE.items()}[value]])
    reverse = {v: k for k, v in ENABLE.items()}
    if value not in reverse:
        raise DownlinkError(f"{name}: 'enable' or 'disable' expected, got {value!r}")
    return bytes([reverse[value]])


@dataclass
class Applied:
    """The result of a downlink: the new configuration and what to do now."""

    config: DeviceConfig
    commands: list[dict[str, Any]]
    reboot: bool = False
    rejoin: bool = False
    notes: list[str] = field(default_factory=list)


def apply(config: DeviceConfig, payload: bytes) -> Applied:
    """Validate and apply a downlink; the input config is never modified."""
    commands = decode(payload)
    data = config_to_dict(config, include_secrets=True)
    result = Applied(config, commands)
    for command in commands:
        ((name, value),) = command.items()
        _apply_one(data, name, value, result)
    try:
        result.config = parse_config(data, "downlink")
    except ConfigError as exc:
        raise DownlinkError(str(exc)) from None
    return result


def _apply_one(data: dict, name: str, value: Any, result: Applied) -> None:
    on = value == "enable"
    lora, rc = data["lorawan"], data["region_counting"]
    if name == "reboot":
        result.reboot = True
    elif name == "confirm_mode_enable":
        lora["confirmed"] = on
    elif name == "adr_enable":
        lora["adr"] = on
    elif name == "lora_port":
        lora["application_port"] = value
        result.rejoin = True
    elif name == "lora_channel_mask":
        masks = list(lora["channel_masks"])
        masks[value["id"] - 1] = value["mask"]
        lora["channel_masks"] = masks
        result.rejoin = True
    elif name == "wifi_enable":
        result.notes.append("Wi-Fi does not apply to occusense (no access point); ignored")
    elif name == "region_people_counting_enable":
        rc["enabled"] = on
    elif name == "report_regularly_enable":
        rc["report"]["periodic_enabled"] = on
    elif name == "people_count_change_report_enable":
        rc["report"]["report_by_result"] = on
    elif name == "people_counting_report_mode":
        rc["report"]["result_mode"] = value
    elif name == "line_detect_enable":
        data["line_crossing"]["enabled"] = on
    elif name == "from_now_on_report_interval":
        lora["reporting_interval_s"] = value
