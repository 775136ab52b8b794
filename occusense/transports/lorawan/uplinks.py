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
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from occusense.analytics.line import LineTotals
from occusense.reports import lorawan
from occusense.reports.reporter import Report
from occusense.transports.lorawan.device import EndDevice

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
        edge_names: the flow area's edge names (rows of the flow matrix).
    """

    def __init__(self, device: EndDevice, serial: str, edge_names: list[str]) -> None:
        self.device = device
        self.serial = serial
        self.edge_names = edge_names
        self.dropped = 0
        self.sent = 0
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lorawan", daemon=True)
        self._thread.start()

    def send(self, report: Report) -> None:
        payload = payload_for(report.body, self.edge_names)
        if not payload:
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            try:
                self._queue.get_nowait()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 100 == 0:
                    log.warning("LoRaWAN: link slower than the reports: %d dropped", self.dropped)
            except queue.Empty:
                pass
        self._queue.put(payload)

    def _run(self) -> None:
        wait = JOIN_BACKOFF_S[0]
        announced = False
        while not self._stop.is_set():
            if not self.device.joined:
                announced = False
                if not self.device.join():
                    self._stop.wait(wait)
                    wait = min(wait * 2, JOIN_BACKOFF_S[1])
                    continue
                wait = JOIN_BACKOFF_S[0]
            if not announced:
                self.device.send(lorawan.device_info(self.serial, HARDWARE, FIRMWARE))
                announced = True
                continue
            try:
                payload = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if self.device.send(payload).sent:
                self.sent += 1

    def close(self) -> None:
        """Stop after the uplink in progress; queued ones are not sent."""
        self._stop.set()
        self._thread.join(timeout=10)
