"""The LoRaWAN 1.0.3 Class A end device (SPEC W3), over a virtual gateway.

:class:`EndDevice` joins (OTAA: JoinRequest, JoinAccept, session keys; or
ABP with the configured keys), sends uplinks on the application port with
the ADR bit and any MAC answers in FOpts, listens in the two receive
windows after each uplink, retries a confirmed uplink once when no ACK came
(the guide's "resend data once"), answers the MAC commands a network server
sends, and hands application downlinks to a callback (W2). In rejoin mode
it sends LinkCheckReq every 30 minutes and joins again when none of
``rejoin_link_checks`` in a row is answered.

The session (DevAddr, session keys, both frame counters, the next DevNonce
and what the network server set by MAC commands) lives in
``<state_dir>/lorawan-session.json`` (mode 0600, replaced atomically) and
survives restarts: a counter is stored *before* the frame using it goes out,
so no counter is ever sent twice, even after ``kill -9``. A session file
that cannot be read is kept aside and the device joins afresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from occusense.config.device import LoraJoinType, LoRaWANSettings
from occusense.files import set_aside, write_atomic
from occusense.transports.lorawan import frames, mac
from occusense.transports.lorawan.frames import DataFrame, FrameError, MType
from occusense.transports.lorawan.gateway import VirtualGateway

log = logging.getLogger(__name__)

JOIN_ACCEPT_DELAY2_S = 6.0
WINDOW_MARGIN_S = 0.5
ADR_ACK_LIMIT = 64
LINK_CHECK_EVERY_S = 30 * 60


@dataclass
class Session:
    """What must survive a restart (stored as JSON)."""

    identity: str  # join type + DevEUI + AppEUI: another identity starts afresh
    joined: bool = False
    dev_addr: int = 0
    nwk_s_key: str = ""
    app_s_key: str = ""
    fcnt_up: int = 0  # the next uplink counter
    fcnt_down: int | None = None  # the last downlink counter accepted
    dev_nonce: int = 0  # the next DevNonce (a counter: never reused)
    radio: dict = field(default_factory=dict)


class SessionStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, identity: str) -> Session:
        try:
            data = json.loads(self.path.read_text())
            session = Session(**data)
        except FileNotFoundError:
            return Session(identity)
        except (ValueError, TypeError) as exc:
            aside = set_aside(self.path)
            log.error("LoRaWAN session %s unreadable (%s): kept as %s, joining afresh",
                      self.path, exc, aside.name)
            return Session(identity)
        if session.identity != identity:
            log.info("LoRaWAN identity changed: a new session (DevNonce kept)")
            return Session(identity, dev_nonce=session.dev_nonce)
        return session

    def save(self, session: Session) -> None:
        write_atomic(self.path, json.dumps(asdict(session)), private_folder=True)


@dataclass
class UplinkResult:
    sent: bool  # reached the network server (PUSH_ACK or a downlink)
    acked: bool | None = None  # None for unconfirmed uplinks
    downlinks: int = 0

    @property
    def delivered(self) -> bool:
        """Taken by the network server, and acknowledged if confirmed."""
        return self.sent and self.acked is not False


class EndDevice:
    """One LoRaWAN end device. Thread-safe: one uplink at a time.

    Args:
        settings: returns the current LoRaWAN settings (they may change live).
        state_dir: where the session is kept.
        on_application: called with (port, payload) of each application
            downlink on the configured port (W2 commands).
        gateway: the virtual gateway; one is made from the settings if None.
    """

    def __init__(
        self,
        settings: Callable[[], LoRaWANSettings],
        state_dir: Path,
        on_application: Callable[[int, bytes], None],
        gateway: VirtualGateway | None = None,
    ) -> None:
        self.settings = settings
        cfg = settings()
        self.plan = mac.plan_for(cfg.region)
        self.store = SessionStore(Path(state_dir) / "lorawan-session.json")
        self.session = self.store.load(self._identity(cfg))
        server = (cfg.server_host, cfg.server_port)
        self.gateway = gateway or VirtualGateway(cfg.gateway_eui, server)
        self.on_application = on_application
        self.radio = self._radio(cfg)
        self._answers = b""  # MAC answers for the next uplink
        self._sticky = b""
        self._ack_next = False  # a confirmed downlink waits for our ACK
        self._no_downlink = 0
        self._link_checks_unanswered = 0
        self._next_link_check = time.monotonic() + LINK_CHECK_EVERY_S
        self._checking = False
        self._lock = threading.Lock()
        if cfg.join_type is LoraJoinType.abp:
            self._start_abp(cfg)

    # -- session -------------------------------------------------------------
    @staticmethod
    def _identity(cfg: LoRaWANSettings) -> str:
        key = cfg.dev_addr if cfg.join_type is LoraJoinType.abp else cfg.app_eui
        return f"{cfg.join_type.value}:{cfg.dev_eui}:{key}"

    def _fresh_radio(self, cfg: LoRaWANSettings) -> mac.RadioState:
        """The radio before any MAC command: the region's plan, the configured
        spreading factor, channel mask and RX2."""
        radio = mac.RadioState.initial(
            self.plan, self.plan.dr_for_sf(cfg.spreading_factor), cfg.channel_masks
        )
        radio.tx_power = cfg.tx_power
        if cfg.rx2_frequency_hz:
            radio.rx2_frequency = cfg.rx2_frequency_hz
        if cfg.rx2_data_rate is not None:
            radio.rx2_data_rate = cfg.rx2_data_rate
        return radio

    def _radio(self, cfg: LoRaWANSettings) -> mac.RadioState:
        """The radio as the network server left it (saved with the session)."""
        radio = self._fresh_radio(cfg)
        saved = self.session.radio
        if saved and self.session.joined:
            radio.data_rate = saved.get("data_rate", radio.data_rate)
            radio.tx_power = saved.get("tx_power", radio.tx_power)
            radio.rx_delay_s = saved.get("rx_delay_s", radio.rx_delay_s)
            radio.rx1_dr_offset = saved.get("rx1_dr_offset", radio.rx1_dr_offset)
            radio.rx2_data_rate = saved.get("rx2_data_rate", radio.rx2_data_rate)
            radio.rx2_frequency = saved.get("rx2_frequency", radio.rx2_frequency)
            channels = {int(k): v for k, v in saved.get("channels", {}).items()}
            radio.channels.update(channels)
            radio.enabled = set(saved.get("enabled", radio.enabled)) or radio.enabled
        return radio

    def _save(self) -> None:
        r = self.radio
        self.session.radio = {
            "data_rate": r.data_rate, "tx_power": r.tx_power, "rx_delay_s": r.rx_delay_s,
            "rx1_dr_offset": r.rx1_dr_offset, "rx2_data_rate": r.rx2_data_rate,
            "rx2_frequency": r.rx2_frequency, "channels": r.channels,
            "enabled": sorted(r.enabled),
        }
        self.store.save(self.session)

    def _start_abp(self, cfg: LoRaWANSettings) -> None:
        s = self.session
        s.dev_addr = int(cfg.dev_addr, 16)
        s.nwk_s_key = cfg.nwk_s_key.get_secret_value()
        s.app_s_key = cfg.app_s_key.get_secret_value()
        s.joined = True
        self._save()

    @property
    def joined(self) -> bool:
        return self.session.joined

    # -- join ------------------------------------------------------------------
    def join(self) -> bool:
        """One OTAA join attempt: JoinRequest, then wait for the JoinAccept."""
        cfg = self.settings()
        if cfg.join_type is LoraJoinType.abp:
            return True
        with self._lock:
            app_key = bytes.fromhex(cfg.app_key.get_secret_value())
            nonce = self.session.dev_nonce & 0xFFFF
            self.session.dev_nonce = nonce + 1
            self.session.joined = False
            self._save()  # the nonce is spent before it is sent
            self.gateway.drain()
            self.gateway.uplink(
                frames.join_request(app_key, cfg.app_eui, cfg.dev_eui, nonce),
                self._frequency(), self.plan.datr(self.radio.data_rate),
            )
            deadline = time.monotonic() + JOIN_ACCEPT_DELAY2_S + WINDOW_MARGIN_S
            while (left := deadline - time.monotonic()) > 0:
                down = self.gateway.next_downlink(left)
                if down is None:
                    break
                try:
                    accept = frames.open_join_accept(app_key, down.phy)
                except FrameError as exc:
                    log.warning("LoRaWAN: ignored a downlink while joining: %s", exc)
                    continue
                self._joined(accept, app_key, nonce)
                return True
        log.warning("LoRaWAN: no JoinAccept for DevNonce %d", nonce)
        return False

    def _joined(self, accept: frames.JoinAccept, app_key: bytes, nonce: int) -> None:
        nwk, app = frames.session_keys(app_key, accept, nonce)
        s = self.session
        s.dev_addr, s.nwk_s_key, s.app_s_key = accept.dev_addr, nwk.hex(), app.hex()
        s.fcnt_up, s.fcnt_down, s.joined = 0, None, True
        self.radio = self._fresh_radio(self.settings())
        self.radio.rx_delay_s = accept.rx_delay_s
        self.radio.rx1_dr_offset = accept.rx1_dr_offset
        self.radio.rx2_data_rate = accept.rx2_data_rate
        for note in mac.apply_cf_list(self.radio, accept.cf_list):
            log.warning("LoRaWAN: %s", note)
        self._answers = self._sticky = b""
        self._checking, self._link_checks_unanswered = False, 0
        self._save()
        log.info("LoRaWAN: joined as DevAddr %08X", accept.dev_addr)

    # -- uplinks ---------------------------------------------------------------
    def _frequency(self) -> int:
        enabled = sorted(self.radio.enabled) or sorted(self.radio.channels)
        index = enabled[self.session.fcnt_up % len(enabled)]
        return self.radio.channels[index]

    def send(self, payload: bytes, port: int | None = None) -> UplinkResult:
        """One uplink (retried once when confirmed and not acknowledged)."""
        cfg = self.settings()
        if not self.session.joined:
            return UplinkResult(False)
        with self._lock:
            port = cfg.application_port if port is None else port
            result = self._transmit(payload, port, cfg.confirmed, cfg)
            if cfg.confirmed and not result.acked:
                log.info("LoRaWAN: no ACK for FCnt %d: sending it once more",
                         self.session.fcnt_up - 1)
                result = self._transmit(payload, port, True, cfg, again=True)
            self._after_uplink(cfg, result)
            return result

    def _transmit(
        self, payload: bytes, port: int | None, confirmed: bool, cfg: LoRaWANSettings,
        again: bool = False,
    ) -> UplinkResult:
        s = self.session
        fcnt = s.fcnt_up - 1 if again else s.fcnt_up  # a retry keeps its counter
        if not again:
            s.fcnt_up += 1
            self._save()  # stored before it is used
        fopts = self._fopts()
        frame = DataFrame(
            MType.confirmed_up if confirmed else MType.unconfirmed_up,
            s.dev_addr, fcnt, port=port if payload or port else None, payload=payload,
            fopts=fopts, adr=cfg.adr, ack=self._ack_next,
            adr_ack_req=cfg.adr and self._no_downlink >= ADR_ACK_LIMIT,
        )
        phy = frames.build_data(
            frame, bytes.fromhex(s.nwk_s_key), bytes.fromhex(s.app_s_key)
        )
        self._ack_next = False
        self.gateway.drain()
        self.gateway.uplink(phy, self._frequency(), self.plan.datr(self.radio.data_rate))
        return self._receive_windows(confirmed)

    def _fopts(self) -> bytes:
        fopts = self._answers + self._sticky
        self._answers = b""
        if self._checking:
            fopts += bytes([mac.LINK_CHECK])
            self._link_checks_unanswered += 1
        return fopts[:15]

    def _receive_windows(self, confirmed: bool) -> UplinkResult:
        """Listen until the end of RX2 for a downlink for this device."""
        token = self.gateway.last_push
        result = UplinkResult(True, False if confirmed else None)
        deadline = time.monotonic() + self.radio.rx_delay_s + 1 + WINDOW_MARGIN_S
        while (left := deadline - time.monotonic()) > 0:
            down = self.gateway.next_downlink(left)
            if down is None:
                break
            frame = self._open(down.phy)
            if frame is None:
                continue
            result.downlinks += 1
            if frame.ack and confirmed:
                result.acked = True
            self._on_downlink(frame)
            break  # Class A: one downlink per uplink
        # delivered = the network server took it (PUSH_ACK), or it answered
        result.sent = result.downlinks > 0 or self.gateway.pushed(token)
        return result

    def _open(self, phy: bytes) -> DataFrame | None:
        s = self.session
        try:
            if frames.peek_dev_addr(phy) != s.dev_addr:
                return None  # another device's frame on the same gateway
            frame = frames.open_data(
                phy, bytes.fromhex(s.nwk_s_key), bytes.fromhex(s.app_s_key), s.fcnt_down
            )
        except FrameError as exc:
            log.warning("LoRaWAN: downlink rejected: %s", exc)
            return None
        if frame.direction != frames.DOWNLINK:
            log.warning("LoRaWAN: an uplink frame came down: ignored")
            return None
        s.fcnt_down = frame.fcnt
        return frame

    def _on_downlink(self, frame: DataFrame) -> None:
        self._no_downlink = 0
        self._sticky = b""
        self._ack_next = frame.mtype is MType.confirmed_down
        commands = frame.payload if frame.port == 0 else frame.fopts
        if commands:
            done = mac.handle(commands, self.radio)
            self._answers += done.once
            self._sticky += done.sticky
            if done.link_check is not None:
                self._checking, self._link_checks_unanswered = False, 0
                log.info("LoRaWAN: link check OK (margin %d dB, %d gateway(s))",
                         *done.link_check)
        self._save()
        if frame.port not in (None, 0):
            if frame.port == self.settings().application_port:
                self.on_application(frame.port, frame.payload)
            else:
                log.warning("LoRaWAN: downlink on port %d ignored (application port %d)",
                            frame.port, self.settings().application_port)

    def _after_uplink(self, cfg: LoRaWANSettings, result: UplinkResult) -> None:
        if not result.downlinks:
            self._no_downlink += 1
        if not cfg.rejoin or cfg.join_type is LoraJoinType.abp:
            return
        if time.monotonic() >= self._next_link_check:
            self._next_link_check = time.monotonic() + LINK_CHECK_EVERY_S
            self._checking = True
        if self._checking and self._link_checks_unanswered >= cfg.rejoin_link_checks:
            log.warning("LoRaWAN: %d link checks unanswered: joining again",
                        self._link_checks_unanswered)
            self.session.joined = False
            self._save()

    def check_link_now(self) -> None:
        """Start a round of link checks at the next uplink (rejoin mode)."""
        self._next_link_check = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.gateway.close()

