"""MAC commands of a LoRaWAN 1.0.3 Class A end device, and its radio plan.

A network server sends MAC commands in a downlink's FOpts or on port 0;
:func:`handle` reads them in order, applies each to the
:class:`RadioState` (all of a LinkADRReq or none of it), and returns the
answers for the next uplink. An unknown command ends the parsing, as the
specification requires (its length is unknown), and is logged.

Only the EU868, IN865 and US915/AU915 channel plans are built in: the
first of them is the VS121's default and the others cover the other
common deployments; another region is refused at start with a clear error.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from occusense.transports.lorawan.frames import FrameError

log = logging.getLogger(__name__)

# command identifiers (section 5)
LINK_CHECK = 0x02
LINK_ADR = 0x03
DUTY_CYCLE = 0x04
RX_PARAM_SETUP = 0x05
DEV_STATUS = 0x06
NEW_CHANNEL = 0x07
RX_TIMING_SETUP = 0x08
TX_PARAM_SETUP = 0x09
DL_CHANNEL = 0x0A
DEVICE_TIME = 0x0D

# payload length of each downlink command (network -> device)
DOWN_LENGTHS = {
    LINK_CHECK: 2,
    LINK_ADR: 4,
    DUTY_CYCLE: 1,
    RX_PARAM_SETUP: 4,
    DEV_STATUS: 0,
    NEW_CHANNEL: 5,
    RX_TIMING_SETUP: 1,
    TX_PARAM_SETUP: 1,
    DL_CHANNEL: 4,
    DEVICE_TIME: 5,
}
# answers repeated in every uplink until a downlink arrives (section 5.4, 5.7, 5.11)
STICKY = (RX_PARAM_SETUP, RX_TIMING_SETUP, DL_CHANNEL)


@dataclass(frozen=True)
class RegionPlan:
    """A regional channel plan: default channels, data rates, RX2."""

    name: str
    default_channels: tuple[int, ...]  # Hz
    data_rates: tuple[tuple[int, int], ...]  # DR -> (spreading factor, bandwidth kHz)
    rx2_frequency: int
    rx2_data_rate: int
    band: tuple[int, int]
    max_channels: int
    fixed_plan: bool = False  # US915/AU915: 64+8 fixed channels, no NewChannelReq

    def datr(self, dr: int) -> str:
        sf, bw = self.data_rates[dr]
        return f"SF{sf}BW{bw}"

    def dr_for_sf(self, sf: int) -> int:
        for dr, (rate_sf, bw) in enumerate(self.data_rates):
            if rate_sf == sf and bw == 125:
                return dr
        raise FrameError(f"{self.name} has no data rate with SF{sf} at 125 kHz")


_EU_RATES = ((12, 125), (11, 125), (10, 125), (9, 125), (8, 125), (7, 125), (7, 250))
_US_RATES = ((10, 125), (9, 125), (8, 125), (7, 125), (8, 500))
PLANS = {
    "EU868": RegionPlan(
        "EU868", (868_100_000, 868_300_000, 868_500_000), _EU_RATES,
        869_525_000, 0, (863_000_000, 870_000_000), 16,
    ),
    "IN865": RegionPlan(
        "IN865", (865_062_500, 865_402_500, 865_985_000), _EU_RATES,
        866_550_000, 2, (865_000_000, 867_000_000), 16,
    ),
    "US915": RegionPlan(
        "US915", tuple(902_300_000 + 200_000 * i for i in range(64)), _US_RATES,
        923_300_000, 8, (902_000_000, 928_000_000), 72, fixed_plan=True,
    ),
    "AU915": RegionPlan(
        "AU915", tuple(915_200_000 + 200_000 * i for i in range(64)), _US_RATES,
        923_300_000, 8, (915_000_000, 928_000_000), 72, fixed_plan=True,
    ),
}


def plan_for(region: str) -> RegionPlan:
    try:
        return PLANS[region.upper()]
    except KeyError:
        raise FrameError(
            f"lorawan.region {region!r} is not supported; use one of {', '.join(PLANS)}"
        ) from None


@dataclass
class RadioState:
    """What the network server may change: channels, data rate, power, RX."""

    plan: RegionPlan
    data_rate: int
    tx_power: int = 0
    channels: dict[int, int] = field(default_factory=dict)  # index -> Hz
    enabled: set[int] = field(default_factory=set)
    rx1_dr_offset: int = 0
    rx2_data_rate: int = 0
    rx2_frequency: int = 0
    rx_delay_s: int = 1
    max_duty_cycle: int = 0
    nb_trans: int = 1

    @classmethod
    def initial(cls, plan: RegionPlan, data_rate: int, masks: list[int]) -> RadioState:
        channels = dict(enumerate(plan.default_channels))
        enabled = {i for i in channels if masks[i // 16] >> (i % 16) & 1}
        return cls(
            plan, data_rate, channels=channels, enabled=enabled or set(channels),
            rx2_data_rate=plan.rx2_data_rate, rx2_frequency=plan.rx2_frequency,
        )


@dataclass
class MacResult:
    """Answers to send, each as (command id, answer bytes with the id)."""

    replies: list[tuple[int, bytes]] = field(default_factory=list)
    link_check: tuple[int, int] | None = None  # (margin dB, gateways)
    device_time: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def answers(self) -> bytes:
        """Every answer, in the order of the commands."""
        return b"".join(raw for _, raw in self.replies)

    @property
    def once(self) -> bytes:
        """Answers sent in the next uplink only."""
        return b"".join(raw for cid, raw in self.replies if cid not in STICKY)

    @property
    def sticky(self) -> bytes:
        """Answers repeated in every uplink until the next downlink."""
        return b"".join(raw for cid, raw in self.replies if cid in STICKY)


def handle(commands: bytes, radio: RadioState, snr: float = 10.0) -> MacResult:
    """Apply downlink MAC ``commands`` to ``radio``; the answers to send."""
    result = MacResult()
    i = 0
    while i < len(commands):
        cid = commands[i]
        size = DOWN_LENGTHS.get(cid)
        if size is None:
            result.notes.append(f"unknown MAC command 0x{cid:02x}: the rest is ignored")
            break
        body = commands[i + 1 : i + 1 + size]
        if len(body) < size:
            result.notes.append(f"MAC command 0x{cid:02x} truncated: ignored")
            break
        i += 1 + size
        answer = _one(cid, body, radio, result, snr)
        if answer is not None:
            result.replies.append((cid, bytes([cid]) + answer))
    for note in result.notes:
        log.warning("LoRaWAN MAC: %s", note)
    return result


def _freq(raw: bytes) -> int:
    return int.from_bytes(raw, "little") * 100


def _one(cid: int, body: bytes, radio: RadioState, result: MacResult, snr: float) -> bytes | None:
    plan = radio.plan
    if cid == LINK_CHECK:
        result.link_check = (body[0], body[1])
        return None
    if cid == LINK_ADR:
        return _link_adr(body, radio)
    if cid == DUTY_CYCLE:
        radio.max_duty_cycle = body[0] & 0x0F
        return b""
    if cid == RX_PARAM_SETUP:
        offset, dr, freq = (body[0] >> 4) & 0x07, body[0] & 0x0F, _freq(body[1:4])
        ok = (offset <= 5, dr < len(plan.data_rates) or plan.fixed_plan, _in_band(plan, freq))
        if all(ok):
            radio.rx1_dr_offset, radio.rx2_data_rate, radio.rx2_frequency = offset, dr, freq
        return bytes([ok[0] << 2 | ok[1] << 1 | ok[2]])
    if cid == DEV_STATUS:
        margin = max(-32, min(31, round(snr))) & 0x3F
        return bytes([0, margin])  # battery 0: powered from an external source
    if cid == NEW_CHANNEL:
        return _new_channel(body, radio, result)
    if cid == RX_TIMING_SETUP:
        radio.rx_delay_s = max(1, body[0] & 0x0F)
        return b""
    if cid == TX_PARAM_SETUP:
        result.notes.append(f"TxParamSetupReq does not apply in {plan.name}: not answered")
        return None
    if cid == DL_CHANNEL:
        index, freq = body[0], _freq(body[1:4])
        return bytes([(index in radio.channels) << 1 | _in_band(plan, freq)])
    if cid == DEVICE_TIME:
        seconds, fraction = struct.unpack("<IB", body)
        result.device_time = seconds + fraction / 256 + 315_964_800 - 18  # GPS epoch, leap s
        return None
    return None


def _in_band(plan: RegionPlan, freq: int) -> bool:
    return plan.band[0] <= freq <= plan.band[1]


def _link_adr(body: bytes, radio: RadioState) -> bytes:
    """LinkADRReq: data rate, power and channel mask, all applied or none."""
    plan = radio.plan
    dr, power = body[0] >> 4, body[0] & 0x0F
    mask = struct.unpack("<H", body[1:3])[0]
    cntl, nb_trans = (body[3] >> 4) & 0x07, body[3] & 0x0F
    dr_ok = dr == 0x0F or dr < len(plan.data_rates)
    power_ok = power == 0x0F or power <= 7
    enabled = _masked_channels(radio, cntl, mask)
    mask_ok = enabled is not None and bool(enabled)
    if dr_ok and power_ok and mask_ok and enabled is not None:
        radio.data_rate = radio.data_rate if dr == 0x0F else dr
        radio.tx_power = radio.tx_power if power == 0x0F else power
        radio.enabled = enabled
        radio.nb_trans = nb_trans or 1
    return bytes([power_ok << 2 | dr_ok << 1 | mask_ok])


def _masked_channels(radio: RadioState, cntl: int, mask: int) -> set[int] | None:
    """The channels a LinkADRReq enables; None for a mask it may not set."""
    if radio.plan.fixed_plan:
        if cntl == 7:  # all 125 kHz channels off, mask applies to 64-71
            return {i for i in radio.channels if i >= 64 and mask >> (i - 64) & 1} or None
        if cntl == 6:
            return set(radio.channels)
        start = cntl * 16
    else:
        if cntl == 6:
            return set(radio.channels)
        if cntl != 0:
            return None
        start = 0
    chosen = {start + b for b in range(16) if mask >> b & 1}
    if not chosen <= set(radio.channels):
        return None
    others = {c for c in radio.enabled if not start <= c < start + 16}
    return others | chosen


def _new_channel(body: bytes, radio: RadioState, result: MacResult) -> bytes:
    plan = radio.plan
    index, freq, dr_range = body[0], _freq(body[1:4]), body[4]
    low, high = dr_range & 0x0F, dr_range >> 4
    if plan.fixed_plan:
        result.notes.append(f"NewChannelReq does not apply in {plan.name}: refused")
        return b"\x00"
    freq_ok = freq == 0 or _in_band(plan, freq)
    dr_ok = low <= high < len(plan.data_rates)
    index_ok = len(plan.default_channels) <= index < plan.max_channels
    if freq_ok and dr_ok and index_ok:
        if freq == 0:
            radio.channels.pop(index, None)
            radio.enabled.discard(index)
        else:
            radio.channels[index] = freq
            radio.enabled.add(index)
    return bytes([(dr_ok and index_ok) << 1 | (freq_ok and index_ok)])


def apply_cf_list(radio: RadioState, cf_list: bytes) -> list[str]:
    """The optional CFList of a JoinAccept (16 bytes): five more channels
    (3..7) for a dynamic plan, or the channel mask for a fixed one (CFList
    type 1). Returns notes on what was not usable."""
    if len(cf_list) != 16:
        return []
    plan, kind = radio.plan, cf_list[15]
    if plan.fixed_plan and kind == 1:
        bits = int.from_bytes(cf_list[:10], "little")
        enabled = {i for i in radio.channels if bits >> i & 1}
        if not enabled:
            return ["CFList enables no channel: kept the current mask"]
        radio.enabled = enabled
        return []
    if plan.fixed_plan or kind != 0:
        return [f"CFList type {kind} does not apply in {plan.name}: ignored"]
    notes = []
    for n in range(5):
        freq = _freq(cf_list[3 * n : 3 * n + 3])
        index = len(plan.default_channels) + n
        if freq == 0:
            continue
        if not _in_band(plan, freq):
            notes.append(f"CFList channel {index} at {freq} Hz is outside {plan.name}: ignored")
            continue
        radio.channels[index] = freq
        radio.enabled.add(index)
    return notes
