"""Prometheus metrics of the running sensor (issue 20): ``GET /metrics``.

Written with the standard client library (``prometheus-client``): one
collector reads the live state when Prometheus scrapes, so counting never
waits on it and nothing is kept twice.

| metric | type | labels |
|---|---|---|
| ``occusense_frames_total`` | counter | |
| ``occusense_frames_dropped_total`` | counter | |
| ``occusense_frame_rate`` | gauge (frames/s) | |
| ``occusense_inference_seconds_total`` | counter | |
| ``occusense_people`` | gauge | ``region`` (``all`` and each region by name) |
| ``occusense_line_cumulative`` | gauge | ``direction`` (in / out) |
| ``occusense_reports_total`` | counter (reports made) | |
| ``occusense_reports_delivered_total`` | counter | ``recipient`` |
| ``occusense_reports_dropped_total`` | counter (store full) | ``recipient`` |
| ``occusense_outbox_depth`` | gauge (reports waiting) | ``recipient`` |
| ``occusense_recipient_connected`` | gauge (1/0) | ``recipient`` |
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from occusense.web.state import TOTAL_KEYS, SensorState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SensorCollector:
    """Turns a :class:`SensorState` into metric families at scrape time."""

    def __init__(self, state: SensorState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        run, counts = self.state.run, dict(self.state.counts)
        yield CounterMetricFamily("occusense_frames", "Frames counted", value=run.frames)
        yield CounterMetricFamily("occusense_frames_dropped",
                                  "Frames a live source sent faster than they were counted",
                                  value=run.dropped)
        yield GaugeMetricFamily("occusense_frame_rate", "Frames counted a second",
                                value=round(run.frame_rate, 3))
        yield CounterMetricFamily("occusense_inference_seconds",
                                  "Seconds spent detecting people", value=run.inference_s)
        yield CounterMetricFamily("occusense_reports", "Reports made", value=run.reports)
        yield from self._people(counts)
        yield from self._recipients()

    def _people(self, counts: dict) -> Iterator[Metric]:
        people = GaugeMetricFamily("occusense_people", "People now", labels=["region"])
        if "people" in counts:
            people.add_metric(["all"], counts["people"])
        for label, value in counts.items():
            if label not in TOTAL_KEYS and isinstance(value, int):
                people.add_metric([label], value)
        yield people
        line = GaugeMetricFamily("occusense_line_cumulative",
                                 "Line crossings since the last reset", labels=["direction"])
        for direction in ("in", "out"):
            if direction in counts:
                line.add_metric([direction], counts[direction])
        yield line

    def _recipients(self) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "delivered": CounterMetricFamily("occusense_reports_delivered",
                                             "Reports a recipient acknowledged",
                                             labels=["recipient"]),
            "dropped": CounterMetricFamily("occusense_reports_dropped",
                                           "Reports dropped from a full store",
                                           labels=["recipient"]),
            "queued": GaugeMetricFamily("occusense_outbox_depth",
                                        "Reports waiting for a recipient", labels=["recipient"]),
            "connected": GaugeMetricFamily("occusense_recipient_connected",
                                           "1 while the recipient is reachable",
                                           labels=["recipient"]),
        }
        for status in self.state.transport_status:
            for key, family in families.items():
                family.add_metric([status["name"]], float(status[key] or 0))
        yield from families.values()


def registry_for(state: SensorState) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SensorCollector(state))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
