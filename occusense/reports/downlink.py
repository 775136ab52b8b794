"""VS121 LoRaWAN downlink commands: the byte codec (SPEC W2, guide section 6.2).

A downlink is a sequence of ``channel, type, value`` records. The guide lists
the ``ff``-channel commands (reboot, confirmed mode, channel mask, ADR, port,
Wi-Fi, the counting and report switches); the devices' newer firmware and
Milesight's public encoder for the VS121 add more ``ff`` commands and the
``f9``-channel ones (report scheme, rejoin, data rate, RX2, D2D conditions,
dwell, schedules, cumulative resets...). :data:`COMMANDS` describes each one
once, field by field, and both directions are driven by it:
:func:`decode` turns bytes into command objects named as in Milesight's
codec (``ff4001`` <-> ``{"adr_enable": "enable"}``) and :func:`encode` does
the reverse, accepting Milesight's encoder input as it is (one object with
many keys, lists for the repeatable commands). Every value is range-checked
both ways, so a command that encodes also applies.

Where Milesight's encoder and decoder disagree, the bytes follow the encoder
(downlinks are made by it): ``people_count_jitter_config`` carries a 1-byte
time, and ``time_schedule`` carries the weekday before the period, as
``work_schedule`` does.

Applying commands to the configuration is ``reports.downlink_config``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from occusense.errors import OccusenseError

ENABLE = ("disable", "enable")
YES_NO = ("no", "yes")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
COUNTING_TYPES = ("region_people_counting", "line_crossing_counting", "people_flow_analysis")
ON_THE_DOT_INTERVALS = ("5min", "10min", "15min", "30min", "1h", "4h", "6h", "8h", "12h")
ON_THE_DOT_SECONDS = (300, 600, 900, 1800, 3600, 14400, 21600, 28800, 43200)


class DownlinkError(OccusenseError):
    """A downlink that is malformed, truncated, unknown or out of range."""


# ------------------------------------------------------------------- fields
@dataclass(frozen=True)
class Part:
    """One value of a command: ``size`` bytes on the wire.

    ``key`` None: the command's single value; "": a reserved byte (written as
    ``fill``, ignored when read, as Milesight's decoder does).
    """

    key: str | None
    size: int
    read: Callable[[bytes], Any]
    write: Callable[[Any], bytes]
    default: Any = None  # used when an object leaves this key out
    action: bool = False  # a command without a value: "yes" sends it, "no" nothing


def choice(key: str | None, names: Mapping[int, str] | tuple[str, ...]) -> Part:
    """One byte naming one of ``names`` (a tuple is indexed from 0)."""
    table = dict(enumerate(names)) if isinstance(names, tuple) else dict(names)
    codes = {name: code for code, name in table.items()}
    prefix = f"{key}: " if key else ""

    def read(raw: bytes) -> str:
        if raw[0] not in table:
            raise DownlinkError(f"{prefix}expected one of {_listing(table)}, got {raw[0]:02x}")
        return table[raw[0]]

    def write(value: Any) -> bytes:
        if not isinstance(value, str) or value not in codes:
            raise DownlinkError(f"{prefix}expected one of {sorted(codes)}, got {value!r:.60}")
        return bytes([codes[value]])

    return Part(key, 1, read, write)


def _listing(table: Mapping[int, str]) -> str:
    return ", ".join(f"{code:02x} ({name})" for code, name in table.items())


def uint(
    key: str | None, size: int, lo: int = 0, hi: int | None = None,
    order: str = "little", offset: int = 0, default: int | None = None,
) -> Part:
    """An unsigned integer in ``lo..hi``; on the wire as ``value - offset``
    (``offset=1`` for the 1-based indexes Milesight sends 0-based)."""
    top = (1 << (8 * size)) - 1 + offset if hi is None else hi
    prefix = f"{key}: " if key else ""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= top:
            raise DownlinkError(f"{prefix}expected an integer {lo}-{top}, got {value!r}")
        return value

    def read(raw: bytes) -> int:
        return check(int.from_bytes(raw, order) + offset)  # type: ignore[arg-type]

    def write(value: Any) -> bytes:
        return (check(value) - offset).to_bytes(size, order)  # type: ignore[arg-type]

    return Part(key, size, read, write, default)


def hexbytes(key: str | None, size: int) -> Part:
    """``size`` bytes as a hex string (a D2D key)."""
    prefix = f"{key}: " if key else ""

    def write(value: Any) -> bytes:
        try:
            raw = bytes.fromhex(value)
        except (TypeError, ValueError):
            raw = b""
        if len(raw) != size:
            raise DownlinkError(f"{prefix}expected {2 * size} hex digits, got {value!r}")
        return raw

    return Part(key, size, lambda raw: raw.hex(), write)


def d2d_command(key: str) -> Part:
    """A 2-byte D2D control command "abcd", sent low byte first (``cd ab``)."""
    inner = hexbytes(key, 2)
    return Part(key, 2, lambda raw: raw[::-1].hex(), lambda v: inner.write(v)[::-1])


def reserved(fill: int) -> Part:
    return Part("", 1, lambda raw: None, lambda value: bytes([fill]))


def action(fill: int) -> Part:
    """A command without a value (reboot, clear): ``"yes"`` in the objects."""

    def write(value: Any) -> bytes:
        if value != "yes":
            raise DownlinkError(f"expected 'yes' (or 'no' to send nothing), got {value!r}")
        return bytes([fill])

    return Part(None, 1, lambda raw: "yes", write, action=True)


def weekmask(key: str) -> Part:
    """A bitmap of weekdays (bit 0 = Sunday) as ``{"sun": "enable", ...}``."""

    def read(raw: bytes) -> dict[str, str]:
        if raw[0] & 0x80:
            raise DownlinkError(f"{key}: bit 7 is not a weekday (got {raw[0]:02x})")
        return {day: ENABLE[raw[0] >> bit & 1] for bit, day in enumerate(WEEKDAYS)}

    def write(value: Any) -> bytes:
        if not isinstance(value, dict) or not set(value) <= set(WEEKDAYS):
            raise DownlinkError(f"{key}: expected an object with keys {', '.join(WEEKDAYS)}")
        mask = 0
        for bit, day in enumerate(WEEKDAYS):
            state = value.get(day, "disable")
            if state not in ENABLE:
                raise DownlinkError(f"{key}.{day}: expected 'enable' or 'disable'")
            mask |= ENABLE.index(state) << bit
        return bytes([mask])

    return Part(key, 1, read, write)


def enable(key: str | None = None) -> Part:
    return choice(key, ENABLE)


def _hours_minutes() -> tuple[Part, ...]:
    return (
        uint("start_hour", 1, 0, 23), uint("start_minute", 1, 0, 59),
        uint("end_hour", 1, 0, 23), uint("end_minute", 1, 0, 59),
    )


# ----------------------------------------------------------------- commands
@dataclass(frozen=True)
class Command:
    """A downlink command: its channel and type bytes and its value's parts."""

    channel: int
    code: int
    name: str
    parts: tuple[Part, ...]
    repeatable: bool = False  # Milesight's encoder takes a list of these

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def scalar(self) -> bool:
        return any(p.key is None for p in self.parts)

    @property
    def hex(self) -> str:
        return f"{self.channel:02x}{self.code:02x}"


_REGION = uint("region", 1, 1, 16, offset=1)
_PERIOD = uint("period", 1, 1, 3, offset=1)
_FF = 0xFF
_F9 = 0xF9
COMMANDS: tuple[Command, ...] = (
    Command(_FF, 0x03, "from_now_on_report_interval", (uint(None, 3, 5, 86400),)),
    Command(_FF, 0x04, "confirm_mode_enable", (enable(),)),
    Command(_FF, 0x05, "lora_channel_mask",
            (uint("id", 1, 1, 6), uint("mask", 2, order="big"))),
    Command(_FF, 0x10, "reboot", (action(0xFF),)),
    Command(_FF, 0x11, "device_time", (uint("timestamp", 4),)),
    Command(_FF, 0x35, "d2d_key", (hexbytes(None, 8),)),
    Command(_FF, 0x40, "adr_enable", (enable(),)),
    Command(_FF, 0x41, "lora_port", (uint(None, 1, 1, 223),)),
    Command(_FF, 0x42, "wifi_enable", (enable(),)),
    Command(_FF, 0x43, "report_regularly_enable", (enable(),)),
    Command(_FF, 0x44, "people_count_change_report_enable", (enable(),)),
    Command(_FF, 0x45, "people_counting_report_mode",
            (choice(None, ("zero_to_nonzero", "once_result_change")),)),
    Command(_FF, 0x46, "people_count_jitter_config",
            (enable("enable"), uint("time", 1, 1, 60))),
    Command(_FF, 0x48, "line_detect_enable", (enable(),)),
    Command(_FF, 0x50, "region_people_counting_enable", (enable(),)),
    Command(_FF, 0x51, "clear_cumulative_count", (action(0xFF),)),
    Command(_FF, 0x69, "retransmission_enable", (enable(),)),
    Command(_FF, 0x6A, "retransmission_interval", (reserved(0), uint(None, 2, 30, 1200))),
    Command(_FF, 0x84, "d2d_enable", (enable(),)),
    Command(_F9, 0x10, "periodic_report_scheme", (choice(None, ("on_the_dot", "from_now_on")),)),
    Command(_F9, 0x11, "on_the_dot_report_interval", (choice(None, ON_THE_DOT_INTERVALS),)),
    Command(_F9, 0x3D, "line_detect_report_enable", (enable(),)),
    Command(_F9, 0x85, "rejoin_config", (enable("enable"), uint("max_count", 1, 1, 255))),
    Command(_F9, 0x86, "data_rate", (uint(None, 1, 0, 15),)),
    Command(_F9, 0x87, "tx_power_level", (uint(None, 1, 0, 15),)),
    Command(_F9, 0x89, "log_level", (reserved(0), choice(None, {2: "error", 4: "debug"}))),
    Command(_F9, 0x8B, "lorawan_version", (choice(None, {1: "v1.0.2", 2: "v1.0.3"}),)),
    Command(_F9, 0x8C, "rx2_data_rate", (uint(None, 1, 0, 15),)),
    Command(_F9, 0x8D, "rx2_frequency", (uint(None, 4),)),
    Command(_F9, 0x8E, "d2d_occupied_config",
            (_REGION, enable("enable"), d2d_command("command"))),
    Command(_F9, 0x90, "d2d_vacant_config",
            (_REGION, enable("enable"), d2d_command("command"), uint("delay_time", 2))),
    Command(_F9, 0x91, "time_config",
            (choice("mode", ("sync_from_gateway", "manual")), uint("timestamp", 4, default=0))),
    Command(_F9, 0x92, "region_people_counting_dwell_config",
            (enable("enable"), uint("min_dwell_time", 2))),
    Command(_F9, 0x93, "report_with_timestamp", (choice(None, YES_NO),)),
    Command(_F9, 0x94, "timed_reset_cumulative_enable", (enable(),)),
    Command(_F9, 0x95, "reset_cumulative_schedule",
            (choice("mode", ("modify", "add", "delete")), uint("index", 1, 1, 5, offset=1),
             weekmask("week_cycle"), uint("time", 3, 0, 1439)), repeatable=True),
    Command(_F9, 0x96, "detect_region_config",
            (enable("enable"), choice("detection_type", ("mapped_region", "unmapped_region")),
             choice("reporting_type", ("occupancy", "region_people_counting")))),
    Command(_F9, 0x97, "time_schedule_config",
            (enable("enable"), choice("people_counting_type", COUNTING_TYPES)), repeatable=True),
    Command(_F9, 0x98, "filter_u_turn_enable", (enable(),)),
    Command(_F9, 0x99, "time_schedule",
            (choice("people_counting_type", COUNTING_TYPES), choice("weekday", WEEKDAYS),
             _PERIOD, *_hours_minutes()), repeatable=True),
    Command(_F9, 0xB7, "region_people_counting_max_dwell_config",
            (enable("enable"), uint("max_dwell_time", 2))),
    Command(_F9, 0xBA, "led_indicator_enable", (enable(),)),
    Command(_F9, 0xCD, "detect_duration_mode", (choice(None, ("auto", "manual")),)),
    Command(_F9, 0xCF, "detect_duration", (uint(None, 1, 1, 10),)),
    Command(_F9, 0xD0, "time_zone", (uint(None, 1, 1, 128),)),
    Command(_F9, 0xD1, "privacy_mask_enable", (enable(),)),
    Command(_F9, 0xD2, "detect_region_enable", (enable(),)),
    Command(_F9, 0xD3, "obstacle_mask_enable", (enable(),)),
    Command(_F9, 0xD4, "periodic_report_enable", (enable(),)),
    Command(_F9, 0xD5, "trigger_report_config",
            (enable("enable"), choice("mode", ("once_result_change", "zero_to_nonzero")))),
    Command(_F9, 0xD6, "region_dwell_config",
            (_REGION, enable("enable"), uint("min_dwell_time", 2, 5, 3600))),
    Command(_F9, 0xD7, "work_schedule",
            (enable("enable"), choice("weekday", WEEKDAYS), _PERIOD, *_hours_minutes()),
            repeatable=True),
    Command(_F9, 0xD8, "clear_all_cumulative_count", (action(0x01),)),
    Command(_F9, 0xDC, "d2d_vacant_enable", (enable(),)),
    Command(_F9, 0xDD, "d2d_occupied_enable", (enable(),)),
)
BY_CODE = {(c.channel, c.code): c for c in COMMANDS}
INTERVAL = BY_CODE[(_FF, 0x03)]
# Milesight's published encoder writes the report interval in 2 bytes
# (``ff032c01``: 300 s), the guide in 3; the 2-byte form is read when it is
# the whole downlink (its length tells the forms apart), and never written.
SHORT_INTERVAL = Command(_FF, 0x03, INTERVAL.name, (uint(None, 2, 5, 65535),))
BY_NAME = {c.name: c for c in COMMANDS}
ALIASES = {"people_count_jitter": "people_count_jitter_config"}  # Milesight's encoder takes both


# ------------------------------------------------------------------- decode
def read_command(command: Command, raw: bytes) -> Any:
    """The value of ``command`` from exactly ``command.size`` bytes."""
    values: dict[str, Any] = {}
    scalar: Any = None
    at = 0
    for part in command.parts:
        value = part.read(raw[at : at + part.size])
        at += part.size
        if part.key is None:
            scalar = value
        elif part.key:
            values[part.key] = value
    return scalar if command.scalar else values


def decode(payload: bytes) -> list[dict[str, Any]]:
    """Downlink bytes -> command objects, or :class:`DownlinkError` (nothing partial)."""
    if not payload:
        raise DownlinkError("empty downlink")
    commands = []
    i = 0
    while i < len(payload):
        if i + 2 > len(payload):
            raise DownlinkError(f"truncated command at byte {i}")
        command = BY_CODE.get((payload[i], payload[i + 1]))
        if command is None:
            raise DownlinkError(f"unknown command {payload[i]:02x}{payload[i + 1]:02x} at byte {i}")
        if command is INTERVAL and i == 0 and len(payload) == 2 + SHORT_INTERVAL.size:
            command = SHORT_INTERVAL  # the whole downlink: Milesight's 2-byte form
        raw = payload[i + 2 : i + 2 + command.size]
        if len(raw) < command.size:
            raise DownlinkError(
                f"{command.name} at byte {i} needs {command.size} byte(s), got {len(raw)}"
            )
        try:
            commands.append({command.name: read_command(command, raw)})
        except DownlinkError as exc:
            raise DownlinkError(f"{command.name} at byte {i}: {exc}") from None
        i += 2 + command.size
    return commands


# ------------------------------------------------------------------- encode
def encode(commands: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> bytes:
    """Command objects -> downlink bytes (the inverse of :func:`decode`).

    Takes our list of one-key objects or Milesight's encoder input (one
    object; the repeatable commands as lists). ``"reboot": "no"`` and the
    like send nothing, as in Milesight's encoder.
    """
    if isinstance(commands, Mapping):
        objects: list[Any] = [commands]
    elif isinstance(commands, list | tuple):
        objects = list(commands)
    else:
        raise DownlinkError(
            f"expected a command object or a list of them, got {type(commands).__name__}"
        )
    out = b""
    for obj in objects:
        if not isinstance(obj, Mapping):
            raise DownlinkError(f"a command object is a JSON object, got {obj!r:.60}")
        for name, value in obj.items():
            command = BY_NAME.get(ALIASES.get(name, name)) if isinstance(name, str) else None
            if command is None:
                raise DownlinkError(f"unknown command {name!r}")
            values = value if command.repeatable and isinstance(value, list) else [value]
            for one in values:
                out += _encode_one(command, one)
    return out


def _encode_one(command: Command, value: Any) -> bytes:
    if value == "no" and command.parts[0].action:
        return b""  # an action not asked for
    if not command.scalar and not isinstance(value, Mapping):
        raise DownlinkError(f"{command.name}: expected an object, got {value!r}")
    out = bytes([command.channel, command.code])
    for part in command.parts:
        if part.key is None:
            given = value
        elif not part.key:
            given = None
        elif part.key in value:
            given = value[part.key]
        elif part.default is not None:
            given = part.default
        else:
            raise DownlinkError(f"{command.name}: {part.key!r} is missing")
        try:
            out += part.write(given)
        except DownlinkError as exc:
            raise DownlinkError(f"{command.name}: {exc}") from None
    return out
