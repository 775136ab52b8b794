"""The VS121 LoRaWAN uplink payload codec (SPEC W1, guide section 6.1).

A payload is a sequence of ``channel, type, value`` records. The guide's
channels: ``ff01`` protocol version, ``ff08`` serial number (6 bytes, 12
digits), ``ff09`` hardware version, ``ff1f`` firmware version, ``04c9``
region counter (total, number of mapped regions, 16-bit big-endian occupancy
bitmap, bit 0 = region 1), ``05cc`` line in/out of the interval (16-bit
little-endian each), ``06cd`` the interval's maximum, ``07d5`` people in
regions 1-8 (one byte each). The newer firmware channels that integrators'
decoders already know: ``08d5`` regions 9-16, ``09da``-``0cda`` the flow
matrix rows A-D (four 16-bit LE counts each), ``0dcc`` cumulative in/out,
``0ee4`` dwell (region, average and max, 16-bit LE seconds), ``0f85`` a
32-bit LE Unix timestamp, ``10f7`` line in/out (16-bit LE), and ``20ce``
history: a stored report sent late, one record per ``20ce`` (32-bit LE Unix
time, a type byte, then the fields of one live channel, or half of one: the
8-byte channels are split in two 4-byte types, as Milesight's decoder reads
them). Uplinks may also carry the device's answers to downlink commands on
channels ``ff``/``fe``/``f9``/``f8``; they decode with the downlink codec's
command table (``f8`` adds a result byte).

Decoded field names are those of Milesight's public decoder for the VS121,
so a backend that already decodes real VS121 uplinks reads ours unchanged.
The encoder builds payloads from the same counting state as the JSON reports.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from occusense.analytics.line import LineTotals
from occusense.analytics.regions import RegionState
from occusense.errors import OccusenseError
from occusense.reports.downlink import BY_CODE, DownlinkError, read_command

FLOW_ROWS = {0x09: "a", 0x0A: "b", 0x0B: "c", 0x0C: "d"}


class CodecError(OccusenseError):
    """A payload that is truncated, unknown or out of range."""


# ----------------------------------------------------------------- encoding
def _u8(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise CodecError(f"{what} must fit one byte (0-255), got {value}")
    return bytes([value])


def _u16le(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise CodecError(f"{what} must fit two bytes (0-65535), got {value}")
    return struct.pack("<H", value)


def device_info(
    sn: str, hardware: tuple[int, int], firmware: tuple[int, int, int, int], protocol: int = 1
) -> bytes:
    """``ff01 ff08 ff09 ff1f``: sent after joining."""
    digits = sn.strip()
    if len(digits) != 12 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise CodecError(f"the serial number must be 12 hex digits, got {sn!r}")
    return (
        b"\xff\x01"
        + _u8(protocol, "protocol version")
        + b"\xff\x08"
        + bytes.fromhex(digits)
        + b"\xff\x09"
        + bytes(_u8(v, "hardware version")[0] for v in hardware)
        + b"\xff\x1f"
        + bytes(_u8(v, "firmware version")[0] for v in firmware)
    )


def region_counter(total: int, regions: int, occupancy: list[int]) -> bytes:
    """``04c9``: total, mapped regions, occupancy bitmap (bit 0 = region 1)."""
    if regions > 16 or len(occupancy) > 16:
        raise CodecError("at most 16 regions")
    bitmap = sum(1 << i for i, occupied in enumerate(occupancy) if occupied)
    return (
        b"\x04\xc9"
        + _u8(min(total, 255), "total")
        + _u8(regions, "regions")
        + struct.pack(">H", bitmap)
    )


def line_counter(inward: int, outward: int) -> bytes:
    """``05cc``: the interval's in and out."""
    return b"\x05\xcc" + _u16le(inward, "in") + _u16le(outward, "out")


def max_counter(peak: int) -> bytes:
    """``06cd``: the interval's maximum number of people."""
    return b"\x06\xcd" + _u8(min(peak, 255), "max")


def region_counts(counts: list[int]) -> bytes:
    """``07d5`` (regions 1-8) and, with more regions, ``08d5`` (9-16)."""
    if len(counts) > 16:
        raise CodecError("at most 16 regions")
    padded = [min(c, 255) for c in counts] + [0] * (16 - len(counts))
    out = b"\x07\xd5" + bytes(padded[:8])
    if len(counts) > 8:
        out += b"\x08\xd5" + bytes(padded[8:])
    return out


def flow_matrix(matrix: dict[str, int], names: list[str]) -> bytes:
    """``09da``-``0cda``: rows A-D of the flow matrix (first to fourth edge)."""
    out = b""
    for row, channel in enumerate((0x09, 0x0A, 0x0B, 0x0C)):
        if row >= len(names):
            break
        cells = [
            matrix.get(f"{names[row]}-{names[c]}", 0) if c < len(names) else 0 for c in range(4)
        ]
        out += bytes([channel, 0xDA]) + b"".join(_u16le(v, "flow") for v in cells)
    return out


def total_counter(total: LineTotals) -> bytes:
    """``0dcc``: cumulative in and out since the last reset."""
    return b"\x0d\xcc" + _u16le(total.inward % 65536, "in") + _u16le(total.outward % 65536, "out")


def dwell(region: int, average_s: float, max_s: float) -> bytes:
    """``0ee4``: a region's average and maximum dwell (seconds)."""
    return (
        b"\x0e\xe4"
        + _u8(region, "region")
        + _u16le(min(round(average_s), 65535), "avg")
        + _u16le(min(round(max_s), 65535), "max")
    )


def timestamp(ts: float) -> bytes:
    """``0f85``: Unix time of the report."""
    return b"\x0f\x85" + struct.pack("<I", int(ts))


# live channel -> history types of its value's halves (20ce records)
HISTORY_TYPES: dict[tuple[int, int], tuple[int, ...]] = {
    (0x04, 0xC9): (0x01,),
    (0x05, 0xCC): (0x02,),
    (0x06, 0xCD): (0x03,),
    (0x07, 0xD5): (0x04, 0x05),
    (0x08, 0xD5): (0x06, 0x07),
    (0x09, 0xDA): (0x08, 0x09),
    (0x0A, 0xDA): (0x0A, 0x0B),
    (0x0B, 0xDA): (0x0C, 0x0D),
    (0x0C, 0xDA): (0x0E, 0x0F),
    (0x0D, 0xCC): (0x10,),
    (0x0E, 0xE4): (0x11,),
    (0x10, 0xF7): (0x12,),
}


def as_history(payload: bytes, ts: float) -> list[bytes]:
    """A live uplink sent late: one ``20ce`` record per value (or half of an
    8-byte one), stamped ``ts``; a ``0f85`` timestamp is dropped (the records
    carry theirs)."""
    if not 0 <= ts < 1 << 32:
        raise CodecError(f"history time {ts!r} is outside the 4-byte range 0..{(1 << 32) - 1}")
    records = []
    for key, value in _records(payload):
        if key == (0x0F, 0x85):
            continue
        types = HISTORY_TYPES.get(key)
        if types is None:
            raise CodecError(f"channel {key[0]:02x}{key[1]:02x} has no history record")
        half = len(value) // len(types)
        for n, kind in enumerate(types):
            chunk = value[n * half : (n + 1) * half] if len(types) > 1 else value
            records.append(b"\x20\xce" + struct.pack("<IB", int(ts), kind) + chunk)
    return records


def periodic_uplink(
    state: RegionState, peak: int, occupancy: bool, line: LineTotals | None = None
) -> bytes:
    """The regular uplink for region counting (guide examples 2 and 3) and,
    when the line is on, its interval counts (example 4)."""
    payload = b""
    if occupancy or not state.per_region:
        payload += region_counter(state.total, len(state.per_region), list(state.occupancy))
    else:
        payload += region_counts(list(state.per_region))
    payload += max_counter(peak)
    if line is not None:
        payload += line_counter(line.inward, line.outward)
    return payload


# ----------------------------------------------------------------- decoding
@dataclass(frozen=True)
class _Channel:
    size: int
    read: Callable[[bytes], dict[str, Any]]


def _version(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def _region_counter(raw: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {"people_count_all": raw[0], "region_count": raw[1]}
    bitmap = struct.unpack(">H", raw[2:4])[0]
    for i in range(min(raw[1], 16)):
        out[f"region_{i + 1}"] = (bitmap >> i) & 1
    return out


def _counts(first: int, count: int = 8) -> Callable[[bytes], dict[str, Any]]:
    """One byte a region: regions ``first`` .. ``first + count - 1``."""
    return lambda raw: {f"region_{first + i}_count": raw[i] for i in range(count)}


def _u16s(*names: str) -> Callable[[bytes], dict[str, Any]]:
    """16-bit little-endian values, one per name."""
    layout = f"<{len(names)}H"
    return lambda raw: dict(zip(names, struct.unpack(layout, raw), strict=True))


def _flow(row: str, cols: str = "abcd") -> Callable[[bytes], dict[str, Any]]:
    return _u16s(*(f"{row}_to_{col}" for col in cols))


CHANNELS: dict[tuple[int, int], _Channel] = {
    (0xFF, 0x01): _Channel(1, lambda r: {"protocol_version": r[0]}),
    (0xFF, 0x08): _Channel(6, lambda r: {"sn": r.hex()}),
    (0xFF, 0x09): _Channel(2, lambda r: {"hardware_version": _version(r)}),
    (0xFF, 0x1F): _Channel(4, lambda r: {"firmware_version": _version(r)}),
    (0x04, 0xC9): _Channel(4, _region_counter),
    (0x05, 0xCC): _Channel(4, _u16s("people_in", "people_out")),
    (0x06, 0xCD): _Channel(1, lambda r: {"people_count_max": r[0]}),
    (0x07, 0xD5): _Channel(8, _counts(1)),
    (0x08, 0xD5): _Channel(8, _counts(9)),
    **{(ch, 0xDA): _Channel(8, _flow(row)) for ch, row in FLOW_ROWS.items()},
    (0x0D, 0xCC): _Channel(4, _u16s("people_total_in", "people_total_out")),
    (0x0E, 0xE4): _Channel(
        5,
        lambda r: {
            "dwell_time_avg": struct.unpack("<H", r[1:3])[0],
            "dwell_time_max": struct.unpack("<H", r[3:5])[0],
        },
    ),
    (0x0F, 0x85): _Channel(4, lambda r: {"timestamp": struct.unpack("<I", r)[0]}),
    (0x10, 0xF7): _Channel(4, _u16s("line_in", "line_out")),
}


HISTORY: dict[int, _Channel] = {
    **{types[0]: CHANNELS[key] for key, types in HISTORY_TYPES.items() if len(types) == 1},
    **{0x04 + n: _Channel(4, _counts(1 + 4 * n, 4)) for n in range(4)},
    **{
        0x08 + 2 * row + half: _Channel(4, _flow(name, ("ab", "cd")[half]))
        for row, name in enumerate("abcd") for half in (0, 1)
    },
}


def _records(payload: bytes) -> list[tuple[tuple[int, int], bytes]]:
    """Split the live channels of ``payload`` (no history, no responses)."""
    out, i = [], 0
    while i < len(payload):
        key, value = _live(payload, i)
        out.append((key, value))
        i += 2 + len(value)
    return out


def _live(payload: bytes, i: int) -> tuple[tuple[int, int], bytes]:
    """The live channel at byte ``i``: its key and value."""
    if i + 2 > len(payload):
        raise CodecError(f"truncated record header at byte {i}")
    key = (payload[i], payload[i + 1])
    if key not in CHANNELS:
        raise CodecError(f"unknown channel {key[0]:02x}{key[1]:02x} at byte {i}")
    return key, _take(payload, i, CHANNELS[key].size, f"channel {key[0]:02x}{key[1]:02x}")


def _take(payload: bytes, i: int, size: int, what: str) -> bytes:
    value = payload[i + 2 : i + 2 + size]
    if len(value) < size:
        raise CodecError(f"{what} at byte {i} needs {size} bytes, got {len(value)}")
    return value


def decode(payload: bytes) -> dict[str, Any]:
    """Uplink bytes -> fields; raises :class:`CodecError` on anything malformed."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(payload):
        if i + 2 <= len(payload) and (payload[i], payload[i + 1]) == (0x20, 0xCE):
            record, i = _history(payload, i)
            out.setdefault("history", []).append(record)
        elif i + 2 <= len(payload) and (payload[i], payload[i + 1]) not in CHANNELS \
                and payload[i] in RESPONSE_CHANNELS:
            response, i = _response(payload, i)
            out.update(response)
        else:
            key, value = _live(payload, i)
            out.update(CHANNELS[key].read(value))
            i += 2 + len(value)
    return out


def _history(payload: bytes, i: int) -> tuple[dict[str, Any], int]:
    head = _take(payload, i, 5, "history record")
    ts, kind = struct.unpack("<IB", head)
    channel = HISTORY.get(kind)
    if channel is None:
        raise CodecError(f"history record at byte {i}: unknown type {kind:02x}")
    value = _take(payload, i + 5, channel.size, f"history record of type {kind:02x}")
    return {"timestamp": ts, **channel.read(value)}, i + 7 + channel.size


# answer channels -> (command table channel, result byte follows)
RESPONSE_CHANNELS = {0xFF: (0xFF, False), 0xFE: (0xFF, False), 0xF9: (0xF9, False),
                     0xF8: (0xF9, True)}


def _response(payload: bytes, i: int) -> tuple[dict[str, Any], int]:
    """A device's answer to a downlink command, as Milesight's decoder gives it."""
    table, with_result = RESPONSE_CHANNELS[payload[i]]
    command = BY_CODE.get((table, payload[i + 1]))
    if command is None:
        raise CodecError(f"unknown channel {payload[i]:02x}{payload[i + 1]:02x} at byte {i}")
    size = command.size + with_result
    raw = _take(payload, i, size, command.name)
    try:
        value = read_command(command, raw[: command.size])
    except DownlinkError as exc:
        raise CodecError(f"{command.name} at byte {i}: {exc}") from None
    answer: dict[str, Any] = {command.name: value}
    if with_result and raw[-1]:
        results = {1: "forbidden", 2: "invalid parameter"}
        answer = {"device_response_result": {
            "channel_type": command.code, "result": results.get(raw[-1], "unknown"),
            "request": answer,
        }}
    return answer, i + 2 + size
