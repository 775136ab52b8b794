"""A small LoRaWAN network server for the tests, on real UDP.

It speaks the gateway side of Semtech's UDP protocol to occusense's
virtual gateway (PUSH_ACK, PULL_ACK, PULL_RESP; it reads TX_ACK), answers
JoinRequests with JoinAccepts (encrypted with AES *decrypt*, as a server
does), checks every uplink's MIC, decrypts it, and sends the downlinks a
test queued. Every frame seen or sent is kept for lora-packet to check.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from occusense.transports.lorawan import frames
from occusense.transports.lorawan.frames import DataFrame, FrameError, MType


def aes_decrypt(key: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    return decryptor.update(data) + decryptor.finalize()


@dataclass
class QueuedDownlink:
    port: int | None = None
    payload: bytes = b""
    fopts: bytes = b""
    confirmed: bool = False


@dataclass
class Seen:
    """One frame as the server saw (uplinks) or built (downlinks) it."""

    phy: bytes
    kind: str  # join_request, join_accept, up, down
    frame: DataFrame | None = None
    freq_hz: int = 0  # the uplink's channel, as the gateway reported it


@dataclass
class NetworkServer:
    app_key: bytes
    dev_addr: int = 0x26011BDA
    net_id: bytes = b"\x13\x00\x00"
    ack_confirmed: bool = True
    answer_joins: bool = True
    cf_list: bytes = b""  # 16 bytes sent in JoinAccepts when set
    reachable: bool = True  # False: PUSH_DATA is lost (no PUSH_ACK), as in an outage
    rx_delay: int = 1
    frames_seen: list[Seen] = field(default_factory=list)
    downlinks: list[QueuedDownlink] = field(default_factory=list)
    tx_acks: list[dict] = field(default_factory=list)
    nwk_s_key: bytes = b""
    app_s_key: bytes = b""
    fcnt_down: int = 0
    last_fcnt_up: int | None = None
    pull_data: int = 0

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.gateway: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._nonce = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # -- what tests read --------------------------------------------------------
    def uplinks(self) -> list[DataFrame]:
        with self._lock:
            return [s.frame for s in self.frames_seen if s.kind == "up" and s.frame]

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(1 for s in self.frames_seen if s.kind == kind)

    def use_abp(self, dev_addr: int, nwk: bytes, app: bytes) -> None:
        self.dev_addr, self.nwk_s_key, self.app_s_key = dev_addr, nwk, app

    # -- the protocol -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            version, token, kind = struct.unpack(">BHB", data[:4])
            if kind == 0 and not self.reachable:
                continue
            if kind == 0:  # PUSH_DATA
                self.sock.sendto(struct.pack(">BHB", version, token, 1), addr)
                for rxpk in json.loads(data[12:]).get("rxpk", []):
                    self._uplink(base64.b64decode(rxpk["data"]), rxpk)
            elif kind == 2:  # PULL_DATA
                self.gateway = addr
                self.pull_data += 1
                self.sock.sendto(struct.pack(">BHB", version, token, 4), addr)
            elif kind == 5:  # TX_ACK
                self.tx_acks.append(json.loads(data[12:] or b"{}"))

    def _send_down(self, phy: bytes, rxpk: dict, delay_s: int) -> None:
        if self.gateway is None:
            return
        txpk = {
            "imme": False,
            "tmst": (rxpk["tmst"] + delay_s * 1_000_000) & 0xFFFFFFFF,
            "freq": rxpk["freq"],
            "rfch": 0,
            "powe": 14,
            "modu": "LORA",
            "datr": rxpk["datr"],
            "codr": "4/5",
            "ipol": True,
            "size": len(phy),
            "data": base64.b64encode(phy).decode(),
        }
        self._nonce += 1
        head = struct.pack(">BHB", 2, self._nonce & 0xFFFF, 3)
        self.sock.sendto(head + json.dumps({"txpk": txpk}).encode(), self.gateway)

    def _uplink(self, phy: bytes, rxpk: dict) -> None:
        mtype = phy[0] >> 5
        if mtype == MType.join_request:
            with self._lock:
                self.frames_seen.append(Seen(phy, "join_request"))
            if self.answer_joins:
                self._join(phy, rxpk)
            return
        last = self.last_fcnt_up
        try:
            frame = frames.open_data(phy, self.nwk_s_key, self.app_s_key, last)
            kind = "up"
        except FrameError:
            # a retransmission keeps its counter (a confirmed uplink resent)
            frame = frames.open_data(phy, self.nwk_s_key, self.app_s_key, (last or 0) - 1)
            kind = "retry"
        self.last_fcnt_up = frame.fcnt
        with self._lock:
            self.frames_seen.append(Seen(phy, kind, frame, round(rxpk["freq"] * 1e6)))
        wants_ack = frame.mtype is MType.confirmed_up and self.ack_confirmed
        queued = self.downlinks.pop(0) if self.downlinks else None
        if queued is None and not wants_ack:
            return
        queued = queued or QueuedDownlink()
        down = DataFrame(
            MType.confirmed_down if queued.confirmed else MType.unconfirmed_down,
            self.dev_addr, self.fcnt_down, port=queued.port, payload=queued.payload,
            fopts=queued.fopts, ack=wants_ack,
        )
        self.fcnt_down += 1
        phy_down = frames.build_data(down, self.nwk_s_key, self.app_s_key)
        with self._lock:
            self.frames_seen.append(Seen(phy_down, "down", down))
        self._send_down(phy_down, rxpk, self.rx_delay)

    def _join(self, request: bytes, rxpk: dict) -> None:
        mic = frames.aes_cmac(self.app_key, request[:-4])[:4]
        assert mic == request[-4:], "JoinRequest MIC"
        dev_nonce = struct.unpack("<H", request[17:19])[0]
        app_nonce = (self._nonce + 1).to_bytes(3, "little")
        self._nonce += 1
        body = app_nonce + self.net_id + struct.pack("<I", self.dev_addr)
        body += bytes([0x00, self.rx_delay]) + self.cf_list  # DLSettings: RX1 offset 0, RX2 DR0
        clear = body + frames.aes_cmac(self.app_key, b"\x20" + body)[:4]
        phy = b"\x20" + aes_decrypt(self.app_key, clear)
        tail = app_nonce + self.net_id + struct.pack("<H", dev_nonce)
        pad = bytes(16 - 1 - len(tail))
        self.nwk_s_key = frames.aes_encrypt(self.app_key, b"\x01" + tail + pad)
        self.app_s_key = frames.aes_encrypt(self.app_key, b"\x02" + tail + pad)
        self.fcnt_down, self.last_fcnt_up = 0, None
        with self._lock:
            self.frames_seen.append(Seen(phy, "join_accept"))
        self._send_down(phy, rxpk, 5)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
