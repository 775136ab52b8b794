"""Reports as VS121 LoRaWAN uplinks, sent by the end device (W1 + W3).

:class:`LoRaWANSink` takes the same reports as the HTTP and MQTT
transports (the VS121-P JSON bodies, made from one counting state) and
turns each into the VS121's channel bytes (``reports.lorawan``): region
counts with the interval's maximum, line in/out with the cumulative totals,
the flow matrix, dwell averages. A sender thread joins first (OTAA, with
back-off), sends the device-info uplink, then the reports in order.
LoRaWAN carries a few uplinks a minute at best: when reports come faster
than the link takes them, the oldest queued ones are dropped (counted and
logged), as the retransmission limits of T3 do for the other transports.

With ``general.retransmission_enabled``, a report that did not reach the
network server, or is still queued when the sensor stops, goes to the
:class:`HistoryStore` and is sent later as ``20ce`` history records, one
uplink every ``general.retransmission_interval_s`` while the link is up.
``lorawan.report_with_timestamp`` adds the report's time (``0f85``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from occusense.analytics.line import LineTotals
from occusense.config.model import DeviceConfig
from occusense.reports import lorawan
from occusense.reports.reporter import Report
from occusense.transports.lorawan.device import EndDevice
from occusense.transports.lorawan.history import HistoryStore

log = logging.getLogger(__name__)

HARDWARE = (1, 0)
FIRMWARE = (1, 0, 0, 0)
QUEUE_LIMIT = 100
JOIN_BACKOFF_S = (1.0, 60.0)


def payload_for(body: dict[str, Any], edge_names: list[str]) -> bytes:
    """The uplink bytes of one VS121-P report body (empty: nothing to send)."""
    event, kind = body.get("event", ""), body.get("report_type", "")
    if event.startswith("Region"):
        total, regions = body["current_total"], body["total_mapped_regions"]
        if "occupancy" in body or not regions:
            out = lorawan.region_counter(total, regions, list(body.get("occupancy", [])))
        else:
            out = lorawan.region_counts(list(body["current_counted"]))
        if kind == "interval":
            out += lorawan.max_counter(body["max_counted"])
        return out
    if event.startswith("Line") and kind == "interval":
        cumulative = body["total_data"]
        totals = LineTotals(
            cumulative["in_cumulative_counted"], cumulative["out_cumulative_counted"]
        )
        return lorawan.line_counter(body["in_counted"], body["out_counted"]) + (
            lorawan.total_counter(totals)
        )
    if event.startswith("People Flow"):
        return lorawan.flow_matrix(body["flow_data"], edge_names)
    if event.startswith("Dwell") and kind == "interval":
        return b"".join(
            lorawan.dwell(row["region"], row["avg_dwell_time"], row["max_dwell_time"])
            for row in body["dwell_time_data"]
        )
    return b""  # triggers of lines and dwells have no VS121 channel


class LoRaWANSink:
    """Sends reports as uplinks through ``device`` on a thread of its own.

    Args:
        device: the joined (or joining) end device.
        serial: the 12-digit serial number for the device-info uplink.
        config: returns the configuration in force (it may change live).
    """

    def __init__(
        self, device: EndDevice, serial: str, config: Callable[[], DeviceConfig]
    ) -> None:
        self.device = device
        self.serial = serial
        self.config = config
        self.history = HistoryStore(Path(config().state_dir) / "lorawan-history.json")
        self.dropped = 0
        self.sent = 0
        self._queue: queue.Queue[tuple[float, bytes]] = queue.Queue()
        self._last_history = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lorawan", daemon=True)
        self._thread.start()

    def send(self, report: Report) -> None:
        config = self.config()
        payload = payload_for(report.body, list(config.people_flow.edge_names))
        if not payload:
            return
        now = time.time()
        if config.lorawan.report_with_timestamp:
            payload += lorawan.timestamp(now)
        if self._queue.qsize() >= QUEUE_LIMIT:
            try:
                self._queue.get_nowait()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 100 == 0:
                    log.warning("LoRaWAN: link slower than the reports: %d dropped", self.dropped)
            except queue.Empty:
                pass
        self._queue.put((now, payload))

    def _run(self) -> None:
        wait = JOIN_BACKOFF_S[0]
        announced = False
        while not self._stop.is_set():
            if not self.device.joined:
                announced = False
                if not self.device.join():
                    self._keep_waiting()
                    self._stop.wait(wait)
                    wait = min(wait * 2, JOIN_BACKOFF_S[1])
                    continue
                wait = JOIN_BACKOFF_S[0]
            if not announced:
                self.device.send(lorawan.device_info(self.serial, HARDWARE, FIRMWARE))
                announced = True
                continue
            try:
                ts, payload = self._queue.get(timeout=0.5)
            except queue.Empty:
                self._send_history()
                continue
            self._send_live(ts, payload)

    def _send_live(self, ts: float, payload: bytes) -> None:
        if self.device.send(payload).delivered:
            self.sent += 1
        else:
            log.warning("LoRaWAN: uplink %s not delivered", payload.hex())
            self._keep(ts, payload)

    def _send_history(self) -> None:
        """One uplink of stored records, when due and the link is up."""
        gap = self.config().general.retransmission_interval_s
        if not len(self.history) or time.monotonic() - self._last_history < gap:
            return
        self._last_history = time.monotonic()
        records = self.history.batch()
        if self.device.send(b"".join(records)).delivered:
            self.history.remove(len(records))
            log.info("LoRaWAN: %d history record(s) sent, %d left",
                     len(records), len(self.history))

    def _keep(self, ts: float, payload: bytes) -> None:
        if self.config().general.retransmission_enabled:
            self.history.add(lorawan.as_history(payload, ts))

    def _keep_waiting(self) -> None:
        """Not joined: what waits in the queue goes to the history store
        (without retransmission it waits in the bounded queue instead)."""
        if not self.config().general.retransmission_enabled:
            return
        while True:
            try:
                self._keep(*self._queue.get_nowait())
            except queue.Empty:
                return

    def close(self) -> None:
        """Stop after the uplink in progress; queued reports are kept as
        history (with retransmission on) for the next start."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._keep_waiting()
