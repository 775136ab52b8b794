"""LoRaWAN 1.0.3 frames of a Class A end device (SPEC W3).

The PHYPayload layouts, the AES-128 FRMPayload encryption and the AES-CMAC
message integrity code of the LoRaWAN 1.0.3 specification (sections 4 and
6), with the ``cryptography`` package's AES and CMAC; nothing else is
hand-made crypto. Multi-byte fields are little-endian on air; EUIs are
written MSB first in configs (as on the device's label) and reversed here.

Only what an end device needs: it builds JoinRequests and uplinks, and it
opens JoinAccepts and downlinks. A frame with a wrong MIC, a wrong address,
a replayed counter or a truncated body raises :class:`FrameError` with the
reason; it never half-parses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from occusense.errors import OccusenseError


class FrameError(OccusenseError):
    """A frame that is malformed, not for this device, or fails its MIC."""


class MType(IntEnum):
    join_request = 0
    join_accept = 1
    unconfirmed_up = 2
    unconfirmed_down = 3
    confirmed_up = 4
    confirmed_down = 5


UPLINK, DOWNLINK = 0, 1
MAJOR_R1 = 0


def aes_encrypt(key: bytes, block: bytes) -> bytes:
    """AES-128 in ECB mode, block by block (the spec's ``aes128_encrypt``)."""
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def aes_cmac(key: bytes, message: bytes) -> bytes:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


def eui_bytes(eui: str) -> bytes:
    """An EUI as written on a label (MSB first) -> its 8 bytes on air."""
    return bytes.fromhex(eui)[::-1]


def mhdr(mtype: MType) -> bytes:
    return bytes([(mtype << 5) | MAJOR_R1])


# ----------------------------------------------------------------- join
def join_request(app_key: bytes, app_eui: str, dev_eui: str, dev_nonce: int) -> bytes:
    """MHDR | AppEUI | DevEUI | DevNonce | MIC (section 6.2.4)."""
    body = mhdr(MType.join_request) + eui_bytes(app_eui) + eui_bytes(dev_eui)
    body += struct.pack("<H", dev_nonce)
    return body + aes_cmac(app_key, body)[:4]


@dataclass(frozen=True)
class JoinAccept:
    """What a JoinAccept tells the device (section 6.2.5)."""

    app_nonce: bytes
    net_id: bytes
    dev_addr: int
    rx1_dr_offset: int
    rx2_data_rate: int
    rx_delay_s: int
    cf_list: bytes = b""


def open_join_accept(app_key: bytes, phy: bytes) -> JoinAccept:
    """Decrypt and check a JoinAccept. The server encrypted it with AES
    *decrypt*, so the device encrypts to read it."""
    if len(phy) not in (17, 33) or phy[0] >> 5 != MType.join_accept:
        raise FrameError(f"not a JoinAccept ({len(phy)} bytes, MHDR {phy[:1].hex()})")
    clear = aes_encrypt(app_key, phy[1:])
    body, mic = clear[:-4], clear[-4:]
    if aes_cmac(app_key, phy[:1] + body)[:4] != mic:
        raise FrameError("JoinAccept MIC does not match the AppKey")
    dl_settings, rx_delay = body[10], body[11]
    return JoinAccept(
        app_nonce=body[0:3],
        net_id=body[3:6],
        dev_addr=struct.unpack("<I", body[6:10])[0],
        rx1_dr_offset=(dl_settings >> 4) & 0x07,
        rx2_data_rate=dl_settings & 0x0F,
        rx_delay_s=max(1, rx_delay & 0x0F),
        cf_list=body[12:],
    )


def session_keys(app_key: bytes, accept: JoinAccept, dev_nonce: int) -> tuple[bytes, bytes]:
    """(NwkSKey, AppSKey) from a join (section 6.2.5)."""
    tail = accept.app_nonce + accept.net_id + struct.pack("<H", dev_nonce)
    pad = bytes(16 - 1 - len(tail))
    return (
        aes_encrypt(app_key, b"\x01" + tail + pad),
        aes_encrypt(app_key, b"\x02" + tail + pad),
    )


# ----------------------------------------------------------------- data frames
def _block(first: int, direction: int, dev_addr: int, fcnt: int, last: int) -> bytes:
    return struct.pack("<B4xBII", first, direction, dev_addr, fcnt) + bytes([0, last])


def crypt_payload(key: bytes, direction: int, dev_addr: int, fcnt: int, data: bytes) -> bytes:
    """FRMPayload encryption, its own inverse (section 4.3.3)."""
    stream = b"".join(
        aes_encrypt(key, _block(0x01, direction, dev_addr, fcnt, i + 1))
        for i in range((len(data) + 15) // 16)
    )
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


def data_mic(key: bytes, direction: int, dev_addr: int, fcnt: int, msg: bytes) -> bytes:
    """The MIC of a data frame: CMAC over B0 | MHDR..FRMPayload (section 4.4)."""
    return aes_cmac(key, _block(0x49, direction, dev_addr, fcnt, len(msg)) + msg)[:4]


@dataclass
class DataFrame:
    """A data frame, clear text.

    Attributes:
        fcnt: the full 32-bit frame counter (16 bits go on air).
        port: FPort, or None for a frame with no payload.
        payload: FRMPayload in clear.
        fopts: MAC commands piggy-backed in the header (at most 15 bytes).
        adr, adr_ack_req, ack, pending: the FCtrl bits.
    """

    mtype: MType
    dev_addr: int
    fcnt: int
    port: int | None = None
    payload: bytes = b""
    fopts: bytes = b""
    adr: bool = False
    adr_ack_req: bool = False
    ack: bool = False
    pending: bool = False

    @property
    def direction(self) -> int:
        return UPLINK if self.mtype in (MType.unconfirmed_up, MType.confirmed_up) else DOWNLINK


def build_data(frame: DataFrame, nwk_s_key: bytes, app_s_key: bytes) -> bytes:
    """Encrypt and sign ``frame`` into a PHYPayload."""
    if len(frame.fopts) > 15:
        raise FrameError("FOpts hold at most 15 bytes of MAC commands")
    if frame.port == 0 and frame.fopts:
        raise FrameError("MAC commands go in FOpts or on port 0, not both")
    fctrl = len(frame.fopts) | frame.adr << 7 | frame.ack << 5
    if frame.direction == UPLINK:
        fctrl |= frame.adr_ack_req << 6
    else:
        fctrl |= frame.pending << 4
    msg = mhdr(frame.mtype) + struct.pack("<IBH", frame.dev_addr, fctrl, frame.fcnt & 0xFFFF)
    msg += frame.fopts
    if frame.port is not None:
        key = nwk_s_key if frame.port == 0 else app_s_key
        msg += bytes([frame.port]) + crypt_payload(
            key, frame.direction, frame.dev_addr, frame.fcnt, frame.payload
        )
    return msg + data_mic(nwk_s_key, frame.direction, frame.dev_addr, frame.fcnt, msg)


def peek_dev_addr(phy: bytes) -> int:
    if len(phy) < 12:
        raise FrameError(f"a data frame has at least 12 bytes, got {len(phy)}")
    return struct.unpack("<I", phy[1:5])[0]


def open_data(phy: bytes, nwk_s_key: bytes, app_s_key: bytes, last_fcnt: int | None) -> DataFrame:
    """Check and decrypt a data frame. ``last_fcnt`` is the last counter
    accepted in this direction (None: none yet); the 16 bits on air are
    extended to 32 bits past it, and a counter not above it is a replay."""
    if len(phy) < 12:
        raise FrameError(f"a data frame has at least 12 bytes, got {len(phy)}")
    mtype = MType(phy[0] >> 5)
    if mtype in (MType.join_request, MType.join_accept):
        raise FrameError(f"{mtype.name} is not a data frame")
    dev_addr, fctrl, fcnt16 = struct.unpack("<IBH", phy[1:8])
    fopts_len = fctrl & 0x0F
    msg, mic = phy[:-4], phy[-4:]
    if len(msg) < 8 + fopts_len:
        raise FrameError("FOpts run past the end of the frame")
    fcnt = _extend(fcnt16, last_fcnt)
    if fcnt is None:
        raise FrameError(f"FCnt {fcnt16} replayed (last accepted {last_fcnt})")
    direction = UPLINK if mtype in (MType.unconfirmed_up, MType.confirmed_up) else DOWNLINK
    if data_mic(nwk_s_key, direction, dev_addr, fcnt, msg) != mic:
        raise FrameError(f"MIC does not match (FCnt {fcnt})")
    frame = DataFrame(mtype, dev_addr, fcnt, fopts=msg[8 : 8 + fopts_len])
    frame.adr, frame.ack = bool(fctrl & 0x80), bool(fctrl & 0x20)
    frame.adr_ack_req = direction == UPLINK and bool(fctrl & 0x40)
    frame.pending = direction == DOWNLINK and bool(fctrl & 0x10)
    rest = msg[8 + fopts_len :]
    if rest:
        frame.port = rest[0]
        if frame.port == 0 and fopts_len:
            raise FrameError("MAC commands both in FOpts and on port 0")
        key = nwk_s_key if frame.port == 0 else app_s_key
        frame.payload = crypt_payload(key, direction, dev_addr, fcnt, rest[1:])
    return frame


MAX_FCNT_GAP = 16384  # section 4.3.1.5 of LoRaWAN 1.0.2: larger gaps are not followed


def _extend(fcnt16: int, last: int | None) -> int | None:
    """The 32-bit counter whose low 16 bits are ``fcnt16``: the first one
    after ``last``, or None when it is a replay of a recent one."""
    if last is None:
        return fcnt16
    candidate = (last & ~0xFFFF) | fcnt16
    if candidate <= last:
        if last - candidate < MAX_FCNT_GAP:
            return None
        candidate += 0x10000
    return candidate
