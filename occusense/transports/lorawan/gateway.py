"""A virtual gateway speaking Semtech's UDP packet-forwarder protocol (W3).

occusense has no LoRa radio, so its end device reaches a network server
(ChirpStack, TTN, any LNS that accepts the legacy "UDP packet forwarder")
as if through a gateway of its own: each uplink goes up in a ``PUSH_DATA``
``rxpk``, a ``PULL_DATA`` keep-alive every few seconds opens the downlink
path, and a ``PULL_RESP`` ``txpk`` is handed to the device at once and
acknowledged with ``TX_ACK`` (protocol version 2, the forwarder's
``PROTOCOL.TXT``). The radio metadata (RSSI, SNR, timestamps) are those of
a good link; the network server sees a gateway whose EUI is configured.

The socket is plain UDP, as in the reference forwarder: run it on a
trusted network or through a VPN to the server.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import socket
import struct
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 2
PUSH_DATA, PUSH_ACK, PULL_DATA, PULL_RESP, PULL_ACK, TX_ACK = 0, 1, 2, 3, 4, 5
KEEPALIVE_S = 5.0


@dataclass(frozen=True)
class Downlink:
    """A frame the network server asked the gateway to transmit."""

    phy: bytes
    frequency_hz: int
    datr: str
    immediate: bool
    tmst: int | None


class VirtualGateway:
    """The gateway side of the Semtech UDP protocol, on one UDP socket.

    Args:
        gateway_eui: 16 hex digits.
        server: (host, port) of the network server's UDP endpoint.
    """

    def __init__(self, gateway_eui: str, server: tuple[str, int]) -> None:
        self.eui = bytes.fromhex(gateway_eui)
        self.server = server
        family = socket.getaddrinfo(server[0], server[1], type=socket.SOCK_DGRAM)[0][0]
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.settimeout(0.5)
        self._downlinks: queue.Queue[Downlink] = queue.Queue()
        self._acked: set[int] = set()  # tokens of PUSH_DATA the server acknowledged
        self.last_push = -1  # token of the latest PUSH_DATA
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._start = time.monotonic()
        self.pull_acked = threading.Event()  # the server answered a PULL_DATA
        self.stats = {"up": 0, "up_acked": 0, "down": 0}
        self._threads = [
            threading.Thread(target=self._receive, name="lora-gw-rx", daemon=True),
            threading.Thread(target=self._keepalive, name="lora-gw-pull", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def tmst(self) -> int:
        """The concentrator's microsecond counter (32 bits, wraps)."""
        return int((time.monotonic() - self._start) * 1e6) & 0xFFFFFFFF

    def _header(self, kind: int) -> tuple[int, bytes]:
        token = int.from_bytes(os.urandom(2), "big")
        return token, struct.pack(">BHB", PROTOCOL_VERSION, token, kind)

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendto(data, self.server)
        except OSError as exc:
            log.warning("LoRaWAN gateway: cannot reach %s:%s: %s", *self.server, exc)

    def uplink(self, phy: bytes, frequency_hz: int, datr: str) -> int:
        """Send one received frame up (``PUSH_DATA``); return its ``tmst``."""
        tmst = self.tmst()
        rxpk = {
            "time": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "tmst": tmst,
            "chan": 0,
            "rfch": 0,
            "freq": round(frequency_hz / 1e6, 6),
            "stat": 1,
            "modu": "LORA",
            "datr": datr,
            "codr": "4/5",
            "rssi": -57,
            "lsnr": 9.5,
            "size": len(phy),
            "data": base64.b64encode(phy).decode(),
        }
        token, head = self._header(PUSH_DATA)
        with self._lock:
            self._acked.discard(token)
            self.last_push = token
        self._send(head + self.eui + json.dumps({"rxpk": [rxpk]}).encode())
        self.stats["up"] += 1
        return tmst

    def pushed(self, token: int) -> bool:
        """Did the network server acknowledge the PUSH_DATA ``token``?"""
        with self._lock:
            return token in self._acked

    def next_downlink(self, timeout: float) -> Downlink | None:
        try:
            return self._downlinks.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> None:
        """Forget downlinks nobody waited for (they were due in a past window)."""
        while not self._downlinks.empty():
            self._downlinks.get_nowait()

    def _keepalive(self) -> None:
        while not self._stop.is_set():
            _, head = self._header(PULL_DATA)
            self._send(head + self.eui)
            self._stop.wait(KEEPALIVE_S)

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.5)  # e.g. ICMP port unreachable while the server is down
                continue
            self._packet(data)

    def _packet(self, data: bytes) -> None:
        if len(data) < 4 or data[0] != PROTOCOL_VERSION:
            log.warning("LoRaWAN gateway: ignored a packet that is not protocol v2")
            return
        token, kind = struct.unpack(">HB", data[1:4])
        if kind == PUSH_ACK:
            self.stats["up_acked"] += 1
            with self._lock:
                self._acked.add(token)
        elif kind == PULL_ACK:
            self.pull_acked.set()
        elif kind == PULL_RESP:
            self._pull_resp(token, data[4:])
        else:
            log.warning("LoRaWAN gateway: ignored packet type %d", kind)

    def _pull_resp(self, token: int, body: bytes) -> None:
        error = "NONE"
        try:
            txpk = json.loads(body)["txpk"]
            phy = base64.b64decode(txpk["data"], validate=True)
            down = Downlink(
                phy=phy,
                frequency_hz=round(float(txpk.get("freq", 0)) * 1e6),
                datr=str(txpk.get("datr", "")),
                immediate=bool(txpk.get("imme", False)),
                tmst=txpk.get("tmst"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("LoRaWAN gateway: malformed PULL_RESP: %s", exc)
            error = "TX_FREQ"  # the closest code the protocol has for "cannot send"
        else:
            self.stats["down"] += 1
            self._downlinks.put(down)
        ack = struct.pack(">BHB", PROTOCOL_VERSION, token, TX_ACK) + self.eui
        self._send(ack + json.dumps({"txpk_ack": {"error": error}}).encode())

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._sock.close()
