"""Milesight D2D controller (SPEC W4): switch other devices on occupancy.

The controller watches the total count: it sends the *Occupied* command when
the area goes from empty to occupied, and the *Vacant* command once the area
has stayed empty for the intelligent delay (``d2d.vacant_delay_s``), so a
person hidden for a moment does not switch the lights off.

The frame. The guide names the 2-byte control command and the D2D key but not
the over-the-air layout, and this software has no LoRa radio, so occusense
defines its own D2D frame and sends it as one UDP datagram (broadcast by
default) to D2D agents on the LAN::

    byte 0      0x01                 frame version
    bytes 1-2   command              the 2-byte control command, as configured
    bytes 3-6   counter              32-bit little-endian, +1 per frame
    bytes 7-10  MIC                  first 4 bytes of AES-128-CMAC(D2D key, bytes 0-6)

Agents check the MIC with the shared key and drop frames whose counter is not
above the last one they accepted (no replay). When D2D is on, occupancy
changes go to the agents this way and are not sent to the gateway.
"""

from __future__ import annotations

import logging
import socket
import struct
from dataclasses import dataclass

from occusense.config.device import D2DSettings
from occusense.errors import OccusenseError
from occusense.transports.lorawan.frames import aes_cmac

log = logging.getLogger(__name__)
VERSION = 0x01
FRAME_SIZE = 11


def _mic(key: bytes, body: bytes) -> bytes:
    return aes_cmac(key, body)[:4]


def encode_frame(key: bytes, command: bytes, counter: int) -> bytes:
    """A D2D frame carrying ``command`` (2 bytes) with frame counter ``counter``."""
    if len(key) != 16 or len(command) != 2:
        raise OccusenseError("D2D needs a 16-byte key and a 2-byte command")
    body = bytes([VERSION]) + command + struct.pack("<I", counter & 0xFFFFFFFF)
    return body + _mic(key, body)


def decode_frame(key: bytes, frame: bytes) -> tuple[bytes, int]:
    """``(command, counter)`` of a frame; raises if malformed or forged."""
    if len(frame) != FRAME_SIZE or frame[0] != VERSION:
        raise OccusenseError(f"not a D2D frame ({len(frame)} bytes)")
    if _mic(key, frame[:7]) != frame[7:]:
        raise OccusenseError("D2D frame MIC does not match (wrong key or tampered)")
    return frame[1:3], struct.unpack("<I", frame[3:7])[0]


@dataclass
class D2DEvent:
    state: str  # "occupied" or "vacant"
    command: bytes
    timestamp: float


class D2DController:
    """Decides when to send the Occupied and Vacant commands.

    Args:
        settings: which commands are enabled, their codes, the vacant delay.
    """

    def __init__(self, settings: D2DSettings) -> None:
        self.settings = settings
        self.state: str | None = None
        self._empty_since: float | None = None

    def update(self, ts: float, total: int) -> D2DEvent | None:
        """Feed the current total; return the command to send now, if any."""
        s = self.settings
        if total > 0:
            self._empty_since = None
            if self.state != "occupied":
                self.state = "occupied"
                if s.occupied_enabled:
                    return D2DEvent("occupied", bytes.fromhex(s.occupied_command), ts)
            return None
        if self._empty_since is None:
            self._empty_since = ts
        if self.state != "vacant" and ts - self._empty_since >= s.vacant_delay_s:
            self.state = "vacant"
            if s.vacant_enabled:
                return D2DEvent("vacant", bytes.fromhex(s.vacant_command), ts)
        return None


class UdpD2DSender:
    """Sends D2D frames as UDP datagrams; the counter survives in memory only
    (agents accept any counter above the last one, so start it at the Unix
    time, which always grows across restarts)."""

    def __init__(self, key: bytes, host: str = "255.255.255.255", port: int = 9696,
                 start_counter: int = 0) -> None:
        self.key = key
        self.address = (host, port)
        self.counter = start_counter
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)

    def send(self, command: bytes) -> bytes:
        self.counter += 1
        frame = encode_frame(self.key, command, self.counter)
        try:
            self._sock.sendto(frame, self.address)
        except OSError as exc:
            log.warning("D2D frame not sent to %s:%d: %s", *self.address, exc)
        return frame

    def close(self) -> None:
        self._sock.close()
