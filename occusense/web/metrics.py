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
| ``occusense_source_up`` | gauge (1 while the camera delivers frames, 0 while lost) | |
| ``occusense_source_lag_seconds`` | gauge (the counted frame behind the camera's clock) | |
| ``occusense_history_writing`` | gauge (1 while the history store takes writes) | |
| ``occusense_history_waiting_minutes`` | gauge (minutes waiting for a store away) | |
| ``occusense_history_lost_minutes_total`` | counter (minutes dropped: more waited than kept) | |
| ``occusense_history_restarts_total`` | counter (a SQLite file damaged or deleted) | |

In a site (``occusense serve``) every sample also has the label ``camera``
(the camera's id), and the shared detector pool adds
``occusense_pool_inferences_total`` and ``occusense_pool_inputs_total``
(label ``model``; their ratio is the mean batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from occusense.web.state import SensorState, region_counts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


Sources = Callable[[], list[tuple[str, SensorState]]]


class SensorCollector:
    """Turns sensors' :class:`SensorState` into metric families at scrape time.

    Args:
        sources: the sensors now, each with its camera id (a site), or one
            sensor with an empty id (``occusense run``: no ``camera`` label).
        by_camera: label every sample with ``camera``.
    """

    def __init__(self, sources: Sources, by_camera: bool = False) -> None:
        self.sources = sources
        self.first = ["camera"] if by_camera else []

    def _counter(self, name: str, text: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily:
        return CounterMetricFamily(name, text, labels=[*self.first, *labels])

    def _gauge(self, name: str, text: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, text, labels=[*self.first, *labels])

    def collect(self) -> Iterator[Metric]:
        families = {
            "frames": self._counter("occusense_frames", "Frames counted"),
            "dropped": self._counter("occusense_frames_dropped",
                                     "Frames a live source sent faster than they were counted"),
            "rate": self._gauge("occusense_frame_rate", "Frames counted a second"),
            "inference": self._counter("occusense_inference_seconds",
                                       "Seconds spent detecting people"),
            "reports": self._counter("occusense_reports", "Reports made"),
            "people": self._gauge("occusense_people", "People now", ("region",)),
            "line": self._gauge("occusense_line_cumulative",
                                "Line crossings since the last reset", ("direction",)),
            "delivered": self._counter("occusense_reports_delivered",
                                       "Reports a recipient acknowledged", ("recipient",)),
            "dropped_reports": self._counter("occusense_reports_dropped",
                                             "Reports dropped from a full store", ("recipient",)),
            "queued": self._gauge("occusense_outbox_depth", "Reports waiting for a recipient",
                                  ("recipient",)),
            "connected": self._gauge("occusense_recipient_connected",
                                     "1 while the recipient is reachable", ("recipient",)),
            "source": self._gauge("occusense_source_up",
                                  "1 while the camera delivers frames, 0 while it is lost"),
            "lag": self._gauge("occusense_source_lag_seconds",
                               "How far the counted frame is behind the camera's clock"),
            "history_writing": self._gauge("occusense_history_writing",
                                           "1 while the history store takes writes"),
            "history_waiting": self._gauge("occusense_history_waiting_minutes",
                                           "Minutes waiting in memory for the history store"),
            "history_lost": self._counter("occusense_history_lost_minutes",
                                          "Minutes the history store lost (more waited "
                                          "than it keeps)"),
            "history_restarts": self._counter("occusense_history_restarts",
                                              "History stores started anew (a SQLite file "
                                              "damaged or deleted)"),
        }
        for camera, state in self.sources():
            self._add(families, [camera] if self.first else [], state)
        yield from families.values()

    def _add(self, families: dict, first: list[str], state: SensorState) -> None:
        run, counts = state.run, dict(state.counts)
        families["frames"].add_metric(first, run.frames)
        families["dropped"].add_metric(first, run.dropped)
        families["rate"].add_metric(first, round(run.frame_rate, 3))
        families["inference"].add_metric(first, run.inference_s)
        families["reports"].add_metric(first, run.reports)
        families["source"].add_metric(first, 1.0 if state.source_up else 0.0)
        families["lag"].add_metric(first, round(run.lag_s, 3))
        store = state.history_store
        if store is not None:
            history = store.status()
            families["history_writing"].add_metric(first, 1.0 if history["writing"] else 0.0)
            families["history_waiting"].add_metric(first, history["waiting_minutes"])
            families["history_lost"].add_metric(first, history["lost_minutes"])
            families["history_restarts"].add_metric(first, history["restarts"])
        if "people" in counts:
            families["people"].add_metric([*first, "all"], counts["people"])
        for label, value in region_counts(counts).items():
            families["people"].add_metric([*first, label], value)
        for direction in ("in", "out"):
            if direction in counts:
                families["line"].add_metric([*first, direction], counts[direction])
        keys = {"delivered": "delivered", "dropped_reports": "dropped", "queued": "queued",
                "connected": "connected"}
        for status in state.transport_status:
            for family, key in keys.items():
                families[family].add_metric([*first, status["name"]], float(status[key] or 0))


def registry_for(state: SensorState) -> CollectorRegistry:
    """One sensor's metrics (no ``camera`` label)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SensorCollector(lambda: [("", state)]))
    registry.register(SpaceCollector(lambda: state.space.snapshot() if state.space else {}))
    return registry


class PoolCollector:
    """The site's detector pool: inferences run and frames (inputs) answered
    per model; inputs over inferences is the mean batch."""

    def __init__(self, stats: Callable[[], dict[str, tuple[int, int]]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily("occusense_pool_inferences",
                                   "Inferences the shared detector pool ran", labels=["model"])
        inputs = CounterMetricFamily("occusense_pool_inputs",
                                     "Inputs the shared detector pool answered", labels=["model"])
        for model, (batches, answered) in self.stats().items():
            runs.add_metric([Path(model).name], batches)
            inputs.add_metric([Path(model).name], answered)
        yield runs
        yield inputs


class SpaceCollector:
    """A site's spaces: the people in each now, and whether it is overcrowded."""

    def __init__(self, spaces: Callable[[], dict[str, dict]]) -> None:
        self.spaces = spaces

    def collect(self) -> Iterator[Metric]:
        people = GaugeMetricFamily("occusense_space_occupancy", "People in the space now",
                                   labels=["space"])
        full = GaugeMetricFamily("occusense_space_overcrowded",
                                 "1 while the space holds more people than its capacity",
                                 labels=["space"])
        for space_id, state in self.spaces().items():
            people.add_metric([space_id], state["occupancy"])
            full.add_metric([space_id], int(state["overcrowded"]))
        yield people
        yield full


def registry_for_cameras(sources: Sources,
                         pool: Callable[[], dict[str, tuple[int, int]]] | None = None,
                         spaces: Callable[[], dict[str, dict]] | None = None,
                         ) -> CollectorRegistry:
    """A site's metrics: every camera's, labelled ``camera``, the pool's and
    the spaces'."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SensorCollector(sources, by_camera=True))
    if pool is not None:
        registry.register(PoolCollector(pool))
    if spaces is not None:
        registry.register(SpaceCollector(spaces))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
