"""The running sensor: a source, a pipeline rebuilt on config changes, the
transports, and the live state the web GUI reads.

When the configuration changes (web GUI, REST API, import, reset), the next
frame is processed by a new pipeline built from it: changes apply without a
restart. Counters start again from zero after a change, as on the VS121-P
after saving settings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from occusense.analytics.geometry import anchor_points
from occusense.clock import DeviceClock
from occusense.config.io import config_to_dict, load_config, parse_config, save_config
from occusense.config.model import DeviceConfig
from occusense.detect.shared import DetectorPool
from occusense.errors import ConfigError, OccusenseError
from occusense.files import UNUSABLE, write_atomic
from occusense.heatmap import open_heatmap
from occusense.history import HistorySink, open_history
from occusense.persist import CountFile, restore
from occusense.pipeline import Pipeline, Sink, detector_for, drive
from occusense.reports.device import device_info
from occusense.rtsp import RtspError, RtspOutput, RtspStream, SiteStreams
from occusense.sources import Frame, FrameSource, Prefetcher
from occusense.spaces import Spaces, sensor_space
from occusense.transports.d2d import D2DController, UdpD2DSender
from occusense.transports.dispatcher import (
    SHUTDOWN_S,
    Dispatcher,
    DispatcherSink,
    has_recipients,
)
from occusense.transports.homeassistant import HomeAssistantPublisher
from occusense.transports.location import LocationServer
from occusense.transports.lorawan.link import LoRaWANLink
from occusense.transports.mqtt import CAMERA_LOST, ONLINE, MqttConnections
from occusense.web.overlay import render
from occusense.web.state import SensorState, region_labels

log = logging.getLogger(__name__)

GOOD = "config.good.yaml"  # in the state directory: the last configuration that started


def _detector_settings(config: DeviceConfig) -> tuple:
    """What the detector is built from."""
    return (config.detector, config.mounting, config.general.recognition_scheme)



def _carry_line_totals(old: Pipeline, new: Pipeline) -> None:
    """The line's cumulative in/out survive a change of anything but the line
    itself (its points, direction, U-turn area): saving a region must not
    zero the counts of a line that did not move."""
    before, after = old.analytics.line, new.analytics.line
    if before is None or after is None:
        return
    line_of = lambda c: (c.line_crossing.line, c.line_crossing.uturn_filter,  # noqa: E731
                         c.line_crossing.uturn_area)
    if line_of(old.config) == line_of(new.config):
        after.cumulative = replace(before.cumulative)


class SensorRunner:
    """Feeds a source through a pipeline that follows ``state.config``.

    Args:
        state: the shared configuration and live state.
        source: where frames come from.
        start_ts: timestamp the first report intervals start at.
        sinks: console / JSONL sinks, kept across rebuilds.
        pool: the detector pool of a many-camera service (``occusense serve``).
        camera: the camera's id in a site.
        streams: the site's RTSP server (the stream at ``/<camera>``);
            None = the sensor's own server on ``rtsp.port`` (``/main``).
    """

    def __init__(
        self, state: SensorState, source: FrameSource, start_ts: float, sinks: list[Sink],
        pool: DetectorPool | None = None, camera: str = "",
        streams: SiteStreams | None = None,
    ) -> None:
        self.state = state
        self.pool = pool
        self._stopping = threading.Event()
        self.stop_phase = ""  # what a stop is waiting for now (said if it is slow)
        self.source = source
        self.start_ts = start_ts
        self.sinks = sinks
        self.pipeline: Pipeline | None = None
        self.dispatcher: Dispatcher | None = None
        self.location: LocationServer | None = None
        self._version = -1
        self.frames = 0
        self.frames_s = 0.0  # time spent on frames, without the stop's wait on recipients
        self._earlier = (0.0, 0)  # inference seconds and reports of pipelines replaced
        self._prefetcher: Prefetcher | None = None
        self._last_frame_at = 0.0
        self._mean_gap: float | None = None
        self._region_labels: list[str] = []
        self.d2d: tuple[D2DController, UdpD2DSender] | None = None
        self.lorawan: LoRaWANLink | None = None
        self.home_assistant: HomeAssistantPublisher | None = None
        self.rtsp: RtspStream | None = None
        self.camera = camera
        self.streams = streams
        self._rtsp_said = ""  # the last thing said of the RTSP output (said once)
        self._good: DeviceConfig | None = None  # the last configuration that started
        state.startable = self.check_startable
        # broker connections outlive pipelines (one connection per client id)
        self.mqtt = MqttConnections()
        # each recipient's delivered / dropped reports under earlier pipelines
        # (a config change must not reset the /metrics counters)
        self._delivered_before: dict[str, tuple[int, int]] = {}
        # the counts of earlier runs (restored into the first pipeline)
        self.counts = CountFile(state.config.state_dir)
        self._restored = False
        # every report and the counts minute by minute (opened once per run)
        self.history = open_history(state.config, camera)
        state.history_store = self.history
        self.heatmap = open_heatmap(state.config.state_dir)  # where people were, by the hour
        state.heatmap = self.heatmap
        self.space: Spaces | None = None  # the room its line watches (config.space)
        self._space_settings: Any = None
        self._clock = DeviceClock(state.config.time.timezone)
        self._day: Any = None  # the local day of the last frame (utilisation reports)
        self._minute = -1  # the minute that day was looked up at
        if hasattr(source, "on_status"):
            source.on_status = self._source_status
            self._source_status(getattr(source, "up", True), getattr(source, "problem", ""))

    def _source_status(self, up: bool, problem: str) -> None:
        """A live camera lost or back: said where receivers look (the MQTT
        status topics, Home Assistant's availability, the API and /metrics);
        no report is made up while it is lost."""
        self.state.source_up, self.state.source_problem = up, problem
        self.mqtt.set_status(ONLINE if up else CAMERA_LOST)
        publisher = self.home_assistant
        if publisher is not None:
            publisher.set_available(up)

    def check_startable(self, new: DeviceConfig, current: DeviceConfig) -> None:
        """Refuse (ConfigError naming the field) a configuration whose
        detector cannot be built or run here: a model file that is not a
        model, an execution provider not installed, an inference server that
        does not answer. Checked before it is saved, so a bad value never
        reaches the running sensor or its saved file."""
        if _detector_settings(new) == _detector_settings(current):
            return
        # a live camera not seen yet has no size: a VGA frame stands in for it
        width, height = self.source.width or 640, self.source.height or 480
        try:
            detector = detector_for(new, width, height, self.pool)
        except OccusenseError as exc:
            raise ConfigError(f"{exc} (the running detector stays)") from None
        try:
            detector.detect(np.zeros((height, width, 3), np.uint8))
            if getattr(detector, "failures", 0):
                raise ConfigError("detector: the model does not run on a frame "
                                  "(the running detector stays)")
        except OccusenseError as exc:
            raise ConfigError(f"detector: {exc} (the running detector stays)") from None
        finally:
            close = getattr(detector, "close", None)
            if close is not None:
                close()

    def _start_pipeline(self, ts: float) -> Pipeline:
        """The pipeline of ``state.config``; when that configuration cannot
        start (it was saved before this version checked it, or the world
        changed: a model file removed, a port taken), the last one that did
        is run instead, saved and reported, and the sensor stays up."""
        try:
            pipeline = self._build(ts)
        except (OccusenseError, OSError) as exc:
            good = self._last_good()
            if good is None:
                raise
            why = (f"the configuration could not start ({exc}); running the last one "
                   f"that did, saved {time.strftime('%Y-%m-%d %H:%M')}")
            log.error("%s", why)
            self.state.fall_back(good, why)
            pipeline = self._build(ts)
        self._remember_good(self.state.config)
        if not self._restored:
            self._restored = True
            self._restore_counts(pipeline)
        return pipeline

    def _restore_counts(self, pipeline: Pipeline) -> None:
        """The counts the last run left (``counts.json``), where they fit."""
        saved = self.counts.load()
        if saved is None:
            return
        try:
            restored = restore(pipeline.analytics, self.state.config, saved)
        except UNUSABLE as exc:
            self.counts.set_aside(exc)
            return
        if restored:
            saved_at = time.strftime("%Y-%m-%d %H:%M:%S",
                                     time.localtime(float(saved.get("saved_at", 0))))
            log.info("counts restored from %s (saved %s): %s", self.counts.path, saved_at,
                     ", ".join(restored))

    def _last_good(self) -> DeviceConfig | None:
        """The last configuration that started, with the account and privacy
        mode in force now; None if there is none or it is what failed."""
        current = self.state.config
        good = self._good
        path = Path(current.state_dir) / GOOD
        if good is None and path.is_file():
            try:
                good = load_config(path)
            except OccusenseError as exc:
                log.warning("%s is unreadable (%s)", path, exc)
        if good is None:
            return None
        data = config_to_dict(good, include_secrets=True)
        now = config_to_dict(current, include_secrets=True)
        data["users"], data["privacy_mode"] = now["users"], now["privacy_mode"]
        data["state_dir"] = now["state_dir"]
        fallback = parse_config(data, str(path))
        return None if fallback == current else fallback

    def _remember_good(self, config: DeviceConfig) -> None:
        if config == self._good:
            return
        self._good = config
        try:
            save_config(config, Path(config.state_dir) / GOOD)
        except OSError as exc:
            log.warning("the configuration that started is not saved as the fallback: %s", exc)

    def _build(self, start_ts: float) -> Pipeline:
        self._close_transports()
        # the version before the config: a change saved while this pipeline is
        # built makes the next frame build another (read after, it was lost)
        version = self.state.version
        config = self.state.config
        if config.general.location_push_enabled:
            self.location = LocationServer(config.general.location_push_port)
        pipeline = Pipeline(
            config,
            self.source.width,
            self.source.height,
            self.source.fps,
            start_ts,
            list(self.sinks),
            location=self.location,
            pool=self.pool,
        )
        labels = region_labels(config)  # once per config, not per frame
        if len(labels) == len(self._region_labels):  # renamed in place: the chart follows
            renames = {a: b for a, b in zip(self._region_labels, labels, strict=True) if a != b}
            if renames:
                self.state.rename_series(renames)
        self._region_labels = labels
        describe = getattr(pipeline.finder.detector, "describe", None)
        self.state.detector = describe() if describe else pipeline.finder.detector.name
        if has_recipients(config):
            self.dispatcher = Dispatcher(config, Path(config.state_dir) / "outbox.sqlite",
                                         self.mqtt)
            pipeline.sinks.append(DispatcherSink(self.dispatcher, pipeline.snapshot))
            log.info("reports also go to: %s", ", ".join(self.dispatcher.recipients()))
        self.mqtt.keep(self.dispatcher.connections if self.dispatcher else [])
        d2d = config.d2d
        if d2d.enabled and config.region_counting.enabled:
            sender = UdpD2DSender(d2d.key_bytes, d2d.udp_host,
                                  d2d.udp_port, start_counter=int(time.time()))
            self.d2d = (D2DController(d2d), sender)
        self._version = version
        if config.home_assistant.enabled:
            serial = device_info(config.device)["device_sn"]
            self.home_assistant = HomeAssistantPublisher(
                config.home_assistant, config, self._region_labels, serial)
            self.home_assistant.available = self.state.source_up
        self._space_for(config)
        self._lorawan_for(config)
        if self.lorawan is not None:
            pipeline.sinks.append(self.lorawan.sink)
        self._rtsp_for(config)
        if self.history is not None:
            pipeline.sinks.append(HistorySink(self.history, lambda: pipeline.last_ts))
        return pipeline

    def _space_for(self, config: DeviceConfig) -> None:
        """The sensor's own space lives across rebuilds; its settings' change
        starts it again (from what it kept in spaces.json)."""
        if config.space == self._space_settings:
            return
        if self.space is not None:
            self.space.close()
        self._space_settings = config.space
        self.space = self.state.space = sensor_space(config)

    def _lorawan_for(self, config: DeviceConfig) -> None:
        """W3: the end device lives across pipeline rebuilds (a downlink
        rebuilds the pipeline); a change of its own settings restarts it."""
        wanted = config.lorawan if config.lorawan.enabled else None
        if self.lorawan is not None and self.lorawan.settings != wanted:
            self.lorawan.close()
            self.lorawan = None
        if wanted is not None and self.lorawan is None:
            self.lorawan = LoRaWANLink(self.state)

    def _rtsp_for(self, config: DeviceConfig) -> None:
        """N1: the RTSP output lives across pipeline rebuilds; a change of its
        settings restarts it; Blur privacy mode has none (P5)."""
        wanted = config.rtsp if config.rtsp.enabled else None
        if wanted is not None and config.privacy_mode.value != "normal":
            if self._rtsp_said != "blur":
                log.warning("RTSP output is off in Blur privacy mode (rtsp.enabled is ignored)")
            self._rtsp_said, wanted = "blur", None
        if self.rtsp is not None and self.rtsp.settings != wanted:
            self.rtsp.close()
            self.rtsp = None
        if wanted is None or self.rtsp is not None:
            self.state.rtsp_stream = self._stream_endpoint()
            return
        size = (self.source.width or 640, self.source.height or 480, self.source.fps)
        try:
            self.rtsp = (RtspOutput(wanted, *size) if self.streams is None
                         else self.streams.mount(self.camera, wanted, *size))
            self._rtsp_said = ""
        except RtspError as exc:
            if self._rtsp_said != str(exc):
                log.error("%s; the sensor counts on without it", exc)
            self._rtsp_said = str(exc)
        self.state.rtsp_stream = self._stream_endpoint()

    def _stream_endpoint(self) -> tuple[int, str] | str:
        """The RTSP output's port and path, or why there is none (for the GUI)."""
        if self.rtsp is not None:
            return (self.rtsp.port, self.rtsp.path)
        if self._rtsp_said == "blur":
            return "off in Blur privacy mode"
        return self._rtsp_said or ""

    def run(
        self,
        max_frames: int | None = None,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> int:
        frames = self._prefetcher = Prefetcher(self.source)
        stream = iter(frames)
        began = time.perf_counter()
        try:
            while (max_frames is None or self.frames < max_frames) and not self.stopping:
                first = next(stream, None)
                if first is None:
                    break
                self._rebuild(first.timestamp)
                if not self._run_pipeline(chain([first], stream), max_frames, on_frame):
                    break
            self.frames_s = time.perf_counter() - began
            if self.pipeline is not None:
                self.stop_phase = "the open tracks to be settled"
                self.pipeline.finish()
                self.counts.save(self.pipeline.analytics, self.state.config, force=True)
        finally:
            self._close_all(frames)
        self.stop_phase = ""
        return self.frames

    def _close_all(self, frames: Prefetcher) -> None:
        """What a stop closes, the data first (``stop_phase`` says which
        step a slow stop waits on)."""
        steps: list[tuple[str, Callable[[], None]]] = []
        if self.history is not None:
            steps.append(("the open minute to be written to the history", self.history.flush))
        if self.heatmap is not None:
            steps.append(("the heatmap to be saved", self.heatmap.close))
        if self.space is not None:
            steps.append(("the space to be saved", self.space.close))
        steps += [("the camera's decoder", frames.close),
                  (f"queued reports to be delivered (at most {SHUTDOWN_S:.1f} s)",
                   self._close_transports),
                  ("the brokers to be told \"offline\"", self.mqtt.close),
                  ("the RTSP output", self._close_rtsp)]
        if self.lorawan is not None:
            steps.append(("the LoRaWAN link", self.lorawan.close))
        for phase, step in steps:
            self.stop_phase = phase
            try:
                step()
            except Exception:  # one part's failure must not keep the others open
                log.exception("while stopping: %s", phase)
        self.lorawan = None

    def _close_rtsp(self) -> None:
        if self.rtsp is not None:
            self.rtsp.close()
            self.rtsp = None
            self.state.rtsp_stream = ""

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Ask :meth:`run` (on another thread) to end: the frame in hand is
        finished, open tracks are settled and the transports closed."""
        self.stop_phase = self.stop_phase or "the frame in hand"
        self._stopping.set()
        if self._prefetcher is not None:
            self._prefetcher.interrupt()

    def _rebuild(self, ts: float) -> None:
        old = self.pipeline
        if old is not None:
            log.info("configuration changed: applying it")
            old.finish()
            self._earlier = (self._earlier[0] + old.times.detect,
                             self._earlier[1] + old.times.reports_sent)
        self.pipeline = self._start_pipeline(ts)
        if old is not None:
            _carry_line_totals(old, self.pipeline)

    def _run_pipeline(
        self,
        frames: Iterator[Frame],
        max_frames: int | None,
        on_frame: Callable[[Frame], None] | None,
    ) -> bool:
        """Feed ``frames`` through the current pipeline until the configuration
        changes (True: go on with a new one) or the frames or ``max_frames``
        run out (False)."""
        pipeline = self.pipeline
        assert pipeline is not None
        changed = lambda: self.state.version != self._version or self.stopping  # noqa: E731

        def stepped(frame: Frame, result) -> None:
            self._publish(frame, result)
            self.frames += 1
            if on_frame:
                on_frame(frame)

        left = None if max_frames is None else max_frames - self.frames
        drive(pipeline, frames, left, stepped, stop=changed)
        if max_frames is not None and self.frames >= max_frames:
            return False
        return changed()

    def _count(self, pipeline: Pipeline) -> None:
        """The run's totals for /metrics: this pipeline's on top of the earlier ones'."""
        run, times, now = self.state.run, pipeline.times, time.monotonic()
        run.frames = self.frames
        run.dropped = self._prefetcher.dropped if self._prefetcher else 0
        run.inference_s = self._earlier[0] + times.detect
        run.reports = self._earlier[1] + times.reports_sent
        gap = now - self._last_frame_at
        if 0 < gap < 60:
            # frames a second from the mean gap over about 20 frames (a mean of
            # 1/gap would count the short gaps of frames detected two at once
            # far too high)
            self._mean_gap = gap if self._mean_gap is None else self._mean_gap + (
                gap - self._mean_gap) * 0.05
            run.frame_rate = 1 / self._mean_gap
        self._last_frame_at = now

    def _publish(self, frame: Frame, result) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            self._count(pipeline)
        if self._prefetcher is not None and self._prefetcher.paced:
            # the camera's clock is the wall clock: how late this frame is counted
            self.state.run.lag_s = max(0.0, time.time() - frame.timestamp)
        if result is None or pipeline is None:
            return
        self.counts.save(pipeline.analytics, self.state.config)  # at most once a second
        counts: dict = {}
        analytics = pipeline.analytics
        if analytics.regions is not None:
            counts["people"] = analytics.regions.state.total
            for label, n in zip(self._region_labels, analytics.regions.state.per_region,
                                strict=False):
                counts[label] = n
        if analytics.line is not None:
            counts["in"] = analytics.line.cumulative.inward
            counts["out"] = analytics.line.cumulative.outward
            if analytics.line.cumulative.since is None:  # a reset, a line drawn anew
                analytics.line.cumulative.since = frame.timestamp
        if pipeline.alarm is not None:
            counts["alarm"] = int(pipeline.alarm)
        if self.space is not None:  # the room its line watches: in minus out, from 0
            self.space.observe({"sensor": counts}, frame.timestamp)
            counts["space"] = self.space.occupancy("space")
        self.state.details = {
            "paused": sorted(f for f, on in result.active.items() if not on),
            "line_since": analytics.line.cumulative.since if analytics.line else None,
            "flow": dict(analytics.flow.period) if analytics.flow is not None else None,
        }
        self.state.publish(
            pipeline.image, pipeline.last_people, result, frame.timestamp, frame.index, counts
        )
        if self.history is not None:
            self._record(frame.timestamp, counts, result)
        if self.heatmap is not None and pipeline.image is not None:
            people = pipeline.last_people
            points = (anchor_points(people.boxes, self.state.config.uses_box_centre)
                      if len(people) else np.zeros((0, 2)))
            height, width = pipeline.image.shape[:2]
            self.heatmap.add(frame.timestamp, points, width, height)
        if self.home_assistant is not None:
            dwell = analytics.dwell
            longest = ({f"dwell:{label}": v for label, v in
                        zip(self._region_labels, dwell.longest_now(), strict=False)}
                       if dwell is not None else {})
            self.home_assistant.update(counts | longest)
        if self.rtsp is not None and pipeline.image is not None and self.rtsp.watched:
            overlay = (render(pipeline.image, self.state.config, pipeline.last_people, counts)
                       if self.rtsp.settings.overlays else None)
            self.rtsp.push(pipeline.image, overlay)
        if self.state.recording is not None and pipeline.image is not None:
            picture = render(pipeline.image, self.state.config, pipeline.last_people, counts)
            self.state.record(picture)
        if self.d2d is not None and analytics.regions is not None:
            event = self.d2d[0].update(frame.timestamp, analytics.regions.state.total)
            if event is not None:
                self.d2d[1].send(event.command)
                log.info("D2D %s: sent command %s", event.state, event.command.hex())
        if self.dispatcher is not None and frame.index % 10 == 0:
            self.state.transport_status = self._recipient_status()

    def _record(self, ts: float, counts: dict, result) -> None:
        """This frame into the per-minute history: people now, events now."""
        assert self.history is not None
        levels = {}
        if "people" in counts:
            levels["people"] = counts["people"]
            for label in self._region_labels:
                if label in counts:
                    levels[f"region:{label}"] = counts[label]
        if "space" in counts:
            levels["space"] = counts["space"]
        events = [f"line:{'in' if c.inward else 'out'}" for c in result.crossings]
        events += [f"flow:{entry}-{exit_}" for _, entry, exit_ in result.flows]
        self.history.record(ts, levels, events)
        minute = int(ts // 60)
        if minute == self._minute:  # a day can only end with a minute: look once a minute
            return
        self._minute = minute
        day = self._clock.local(ts).date()
        if self._day is not None and day != self._day:
            self._write_utilisation(self._day)
        self._day = day

    def _write_utilisation(self, day) -> None:
        """The day that ended (and, on a Monday, the week) as utilisation
        CSVs in ``<state_dir>/utilisation/``, once its minutes are written."""
        from datetime import datetime, timedelta

        from occusense.history.utilisation import to_csv, utilisation

        store, config, labels = self.history, self.state.config, list(self._region_labels)
        assert store is not None
        folder = Path(config.state_dir) / "utilisation"
        zone = self._clock.zone
        start = datetime.combine(day, datetime.min.time(), zone)
        periods = [(f"day-{day.isoformat()}", start, start + timedelta(days=1))]
        if (day + timedelta(days=1)).weekday() == 0:  # the day ended a week (Mon-Sun)
            monday = start - timedelta(days=6)
            periods.append((f"week-{monday.date().isoformat()}", monday,
                            start + timedelta(days=1)))

        def job() -> None:
            folder.mkdir(parents=True, exist_ok=True)
            for name, since, until in periods:
                rows = utilisation(store, config, labels, since.timestamp(), until.timestamp(),
                                   [store.camera])
                write_atomic(folder / f"utilisation-{name}.csv", to_csv(rows))
            log.info("utilisation written: %s", ", ".join(n for n, _, _ in periods))

        store.after_writes(job)

    def _recipient_status(self) -> list[dict]:
        """Each recipient's status, its counts since the sensor started."""
        assert self.dispatcher is not None
        out = []
        for status in self.dispatcher.status():
            delivered, dropped = self._delivered_before.get(status.name, (0, 0))
            out.append(vars(status) | {"delivered": status.delivered + delivered,
                                       "dropped": status.dropped + dropped})
        return out

    def _close_transports(self) -> None:
        if self.home_assistant is not None:
            self.home_assistant.close()
            self.home_assistant = None
        if self.d2d is not None:
            self.d2d[1].close()
            self.d2d = None
        if self.dispatcher is not None:
            self.dispatcher.close(drain_s=SHUTDOWN_S)
            for status in self._recipient_status():
                self._delivered_before[status["name"]] = (status["delivered"],
                                                          status["dropped"])
            self.dispatcher = None
        if self.location is not None:
            self.location.close()
            self.location = None
