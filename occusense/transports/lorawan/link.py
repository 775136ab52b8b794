"""The running sensor's LoRaWAN link: end device, uplink sink, downlinks
applied to the live configuration (W2 + W3)."""

from __future__ import annotations

import logging
from pathlib import Path

from occusense.config import config_to_dict
from occusense.errors import OccusenseError
from occusense.reports.device import device_info
from occusense.transports.lorawan.commands import apply
from occusense.transports.lorawan.device import EndDevice
from occusense.transports.lorawan.uplinks import LoRaWANSink
from occusense.web.state import SensorState

log = logging.getLogger(__name__)


class LoRaWANLink:
    """Joins, reports and takes downlinks for the sensor behind ``state``."""

    def __init__(self, state: SensorState) -> None:
        self.state = state
        config = state.config
        self.settings = config.lorawan
        self.device = EndDevice(
            lambda: self.state.config.lorawan, Path(config.state_dir), self._downlink
        )
        serial = device_info(config.device)["device_sn"]
        self.sink = LoRaWANSink(self.device, serial, lambda: self.state.config)
        self.applied: list[dict] = []

    def _downlink(self, port: int, payload: bytes) -> None:
        """W2: validate all of a downlink, then apply it live (and save it)."""
        try:
            result = apply(self.state.config, payload)
        except OccusenseError as exc:
            log.warning("LoRaWAN downlink %s rejected: %s", payload.hex(), exc)
            return
        before = self.settings
        self.settings = result.config.lorawan  # our own change: no restart of the link
        try:
            self.state.apply(config_to_dict(result.config, include_secrets=True), "downlink")
        except OccusenseError as exc:  # valid bytes, but a change the sensor refuses
            self.settings = before
            log.warning("LoRaWAN downlink %s rejected: %s", payload.hex(), exc)
            return
        for note in result.notes:
            log.info("LoRaWAN downlink: %s", note)
        self.applied.append({"payload": payload.hex(), "commands": result.commands})
        log.info("LoRaWAN downlink %s applied: %s", payload.hex(), result.commands)
        if result.rejoin:
            self.device.session.joined = False
        if result.log_level is not None:
            logging.getLogger("occusense").setLevel(result.log_level.upper())
        if result.reboot:
            log.info("LoRaWAN downlink: reboot or clear, the pipeline restarts from zero")

    def close(self) -> None:
        self.sink.close()
        self.device.close()
