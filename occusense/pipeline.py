"""One camera's pipeline: source -> masks -> detect -> track -> analytics -> reports.

Data flows one way. :class:`Pipeline` owns the stages; sinks receive the
reports. ``step`` processes one frame so that the CLI, tests and benchmarks
drive the same code.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from occusense.analytics.engine import Analytics, FrameResult
from occusense.analytics.geometry import anchor_points
from occusense.clock import DeviceClock
from occusense.config.device import MIN_DETECTIONS_PER_S, Mount
from occusense.config.model import DeviceConfig
from occusense.detect import Detections, Detector, make_detector
from occusense.detect.heads import HeadFinder
from occusense.detect.masks import MaskPainter
from occusense.detect.presets import make_ceiling_detector
from occusense.detect.rooms import CENTERNET, ROOM_DETECTIONS_PER_S, RoomFinder, chosen_scene
from occusense.detect.shared import DetectorPool
from occusense.dio import EdgeDetector, Pins, open_pins
from occusense.errors import OccusenseError
from occusense.reports.bodies import ReportBodies
from occusense.reports.device import device_info
from occusense.reports.reporter import Report, Reporter
from occusense.sources import Frame, FrameSource, Prefetcher
from occusense.track import PersonTracker, TrackedPeople
from occusense.transports.location import LocationServer

log = logging.getLogger(__name__)


class Sink(Protocol):
    def send(self, report: Report) -> None: ...

    def close(self) -> None: ...


@dataclass
class StageTimes:
    """Seconds spent per stage, for the benchmark and the live status."""

    frames: int = 0
    detect: float = 0.0
    track: float = 0.0
    analytics: float = 0.0
    report: float = 0.0
    reports_sent: int = 0
    dropped: int = 0
    by_feature: dict[str, int] = field(default_factory=dict)


def detector_for(config: DeviceConfig, width: int, height: int,
                  pool: DetectorPool | None = None, threads: int = 1) -> Detector:
    """One core per inference: the pipeline runs ``detector.threads``
    inferences at once (:func:`detect_ahead`). With a ``pool`` the network
    is shared with other cameras. Which finder runs follows
    ``detector.scene`` (:func:`~occusense.detect.rooms.chosen_scene`)."""
    if config.mounting.mount is Mount.ceiling:
        return make_ceiling_detector(config, width, height, threads=threads, pool=pool)
    scene, why = chosen_scene(config)
    if scene == "room" and not (config.detector.model or config.detector.remote_url):
        engine = pool.engine_for(config.detector, CENTERNET) if pool is not None else None
        heads = HeadFinder(threads) if config.detector.heads else None
        finder = RoomFinder(config.detector.score_threshold, threads, engine, heads=heads)
        log.info("detector: %s: %s", finder.describe(), why)
        return finder
    detector = make_detector(config.detector, config.general.recognition_scheme,
                             threads=threads, pool=pool)
    log.info("detector for a walkway (%s)", why)
    return detector


@dataclass
class Detected:
    """One frame's detections: the image they were found in (masks painted),
    and the seconds it took (summed by the tracking thread, not the workers)."""

    image: np.ndarray
    found: Detections
    seconds: float = 0.0


@dataclass
class PlannedFrame:
    """A frame on its way through the pipeline.

    Attributes:
        analysed: False for frames skipped by ``detector.frame_stride``.
        detection: gives the frame's :class:`Detected` (waiting for a worker
            thread if need be), or None between detections
            (``detector.detect_every``), where people stay where last seen.
    """

    frame: Frame
    analysed: bool
    detection: Callable[[], Detected] | None = None


def detection_interval(detect_every: int, analysed_fps: float) -> int:
    """``detector.detect_every``, lowered where the detector would run less
    than ``MIN_DETECTIONS_PER_S`` times a second (a slow camera)."""
    if analysed_fps <= 0:  # a source that does not know its rate
        return detect_every
    interval = max(1, min(detect_every, int(analysed_fps / MIN_DETECTIONS_PER_S)))
    if interval < detect_every:
        log.info(
            "detecting on every %s frame(s), not %s: the camera gives %.1f frames/s",
            interval, detect_every, analysed_fps,
        )
    return interval


class PeopleFinder:
    """Masks, detector and tracker: frames in, people with stable IDs out.

    Detection (:meth:`detect`) may run on worker threads, several frames at
    once (:func:`detect_ahead`); tracking (:meth:`track`) takes the frames
    back in order.

    Args:
        config: the device configuration (masks, detector, position rule).
        width, height: the frame size.
        fps: the source's frame rate (the tracker's time base).
        detector: a ready detector; built from ``config`` when omitted.
        pool: the shared networks of a many-camera service, for the
            detector built from ``config``.
    """

    def __init__(
        self,
        config: DeviceConfig,
        width: int,
        height: int,
        fps: float,
        detector: Detector | None = None,
        pool: DetectorPool | None = None,
    ) -> None:
        self._owns_detector = detector is None
        self.detector = detector or detector_for(config, width, height, pool)
        self.masks = MaskPainter(config.privacy_masks, width, height)
        self.centre = config.uses_box_centre
        self.stride = config.detector.frame_stride
        every = config.detector.detect_every
        if isinstance(self.detector, RoomFinder) and every == 1:
            # people who sit need a few detections a second, not every frame
            every = max(1, int(fps / self.stride / ROOM_DETECTIONS_PER_S))
        self.detect_every = detection_interval(every, fps / self.stride)
        # frames of this camera detected at once (detect_ahead); with a pool,
        # one: the pool runs other cameras' frames on the other cores, and a
        # paced camera's counts then wait for one inference, not for the next
        # frames (measured: 200 ms -> 30-50 ms at 10 frames/s, bench/RESULTS.md)
        self.workers = 1 if pool is not None else config.detector.threads
        self.tracker = PersonTracker(
            frame_rate=fps / (self.stride * self.detect_every),
            hold_missed_s=config.detector.hold_missed_s,
            # a room's seated people stay counted while their place is unchanged
            hold_still=isinstance(self.detector, RoomFinder),
        )
        self.detect_s = 0.0
        self.track_s = 0.0
        self.skipped = 0
        self._analysed = 0
        self.last_image: np.ndarray | None = None

    def wants(self, frame: Frame) -> bool:
        """Whether this frame is analysed (every ``detector.frame_stride``-th)."""
        return frame.index % self.stride == 0

    def next_detects(self) -> bool:
        """Called once per analysed frame, in order: whether the detector
        runs on it (every ``detector.detect_every``-th analysed frame)."""
        self._analysed += 1
        return (self._analysed - 1) % self.detect_every == 0

    def plan(self, frame: Frame, pool: Executor | None = None) -> PlannedFrame:
        """Decide, in frame order, what ``frame`` needs; its detection starts
        on ``pool`` (or runs here without one)."""
        if not self.wants(frame):
            return PlannedFrame(frame, analysed=False)
        if not self.next_detects():
            return PlannedFrame(frame, analysed=True)
        if pool is None:
            detected = self.detect(frame)
            return PlannedFrame(frame, True, lambda: detected)
        return PlannedFrame(frame, True, pool.submit(self.detect, frame).result)

    def detect(self, frame: Frame) -> Detected:
        """Masks painted, people detected, masked people dropped (thread-safe)."""
        t0 = time.perf_counter()
        image = self.masks.paint(frame.image)
        found = self.masks.drop_masked(self.detector.detect(image), self.centre)
        return Detected(image, found, time.perf_counter() - t0)

    def track(self, planned: PlannedFrame) -> TrackedPeople:
        """People of an analysed frame with stable IDs: tracked from its
        detections (waited for), or, between detections, where the last
        detection saw them."""
        frame = planned.frame
        detected = planned.detection() if planned.detection is not None else None
        t0 = time.perf_counter()
        if detected is None:
            self.last_image = self.masks.paint(frame.image)
            people = self.tracker.between_detections()
        else:
            self.last_image = detected.image
            self.detect_s += detected.seconds
            people = self.tracker.update(detected.found, frame.timestamp, detected.image)
        self.track_s += time.perf_counter() - t0
        return people

    def finish(self) -> list[int]:
        return self.tracker.finish()

    def close(self) -> None:
        """Close the detector this finder built (a caller's stays open): a
        remote one holds connections to its server."""
        close = getattr(self.detector, "close", None)
        if self._owns_detector and close is not None:
            close()


class Pipeline:
    """Counts people in frames of one camera and emits VS121-P reports.

    Args:
        config: the device configuration.
        width, height: the frame size (shapes are relative to it).
        fps: the source's frame rate (the tracker's time base).
        start_ts: timestamp that the first report intervals start at.
        sinks: where reports go.
        detector: a ready detector; built from ``config`` when omitted.
        pins: digital I/O; opened from ``config.digital_io`` when the
            overcrowding alarm (DO) or the staff filter (DI) needs it.
        location: the realtime location push server (T4), if enabled.
        pool: the shared networks of a many-camera service (``occusense serve``).
    """

    def __init__(
        self,
        config: DeviceConfig,
        width: int,
        height: int,
        fps: float,
        start_ts: float,
        sinks: Iterable[Sink] = (),
        detector: Detector | None = None,
        pins: Pins | None = None,
        location: LocationServer | None = None,
        pool: DetectorPool | None = None,
    ) -> None:
        self.config = config
        self.finder = PeopleFinder(config, width, height, fps, detector, pool)
        self.analytics = Analytics(config, width, height)
        clock = DeviceClock(config.time.timezone)
        bodies = ReportBodies(device_info(config.device), clock)
        self.reporter = Reporter(config, self.analytics, bodies, start_ts)
        self.sinks = list(sinks)
        self.times = StageTimes()
        self.last_people = TrackedPeople()
        self.last_ts = start_ts
        self.last_ended: list[int] = []  # people whose tracks the last finish() closed
        needs_pins = config.region_counting.overcrowding.enabled or (
            config.line_crossing.enabled and config.line_crossing.staff_filter
        )
        self.pins = pins or (open_pins(config.digital_io, config.state_dir) if needs_pins else None)
        self._di = EdgeDetector()
        self.alarm: bool | None = None
        self.location = location
        self.image: np.ndarray | None = None  # the last analysed frame, masks painted
        self._snapshot: tuple[int, str] | None = None
        self._frame_index = -1

    def step(self, frame: Frame | PlannedFrame) -> FrameResult | None:
        """Process one frame (planned by ``finder.plan``, or not yet); send
        the reports it makes due. Frames skipped by ``detector.frame_stride``
        return None."""
        planned = frame if isinstance(frame, PlannedFrame) else self.finder.plan(frame)
        frame = planned.frame
        if not planned.analysed:
            self.finder.skipped += 1
            return None
        people = self.finder.track(planned)
        self.image, self._frame_index = self.finder.last_image, frame.index
        t2 = time.perf_counter()
        result = self.analytics.update(frame.timestamp, people, self._staff_pulse())
        self._drive_alarm(result.alarm)
        if self.location is not None and self.location.clients:
            self.location.push(self._positions(frame, people))
        t3 = time.perf_counter()
        self._emit(self.reporter.on_frame(result))
        t4 = time.perf_counter()
        times = self.times
        times.frames += 1
        times.detect, times.track = self.finder.detect_s, self.finder.track_s
        times.analytics += t3 - t2
        times.report += t4 - t3
        self.last_people, self.last_ts = people, frame.timestamp
        return result

    def _positions(self, frame: Frame, people: TrackedPeople) -> str:
        """T4: one JSON line with every tracked person of this frame."""
        points = anchor_points(people.boxes, self.finder.centre)
        regions = self.analytics.regions
        inside = (
            regions.membership(points)
            if regions is not None and regions.mapped_regions
            else np.zeros((len(points), 0), bool)
        )
        people_out = [
            {
                "id": int(pid),
                "box": [round(float(v), 1) for v in box],
                "centre": [round(float(v), 1) for v in point],
                "region": [int(r) + 1 for r in np.flatnonzero(row)],
            }
            for pid, box, point, row in zip(people.ids, people.boxes, points, inside, strict=True)
        ]
        stamp = self.analytics.clock.local(frame.timestamp).isoformat(timespec="milliseconds")
        return json.dumps({"timestamp": stamp, "frame": frame.index, "people": people_out})

    def snapshot(self) -> str | None:
        """E4: the current frame (masks painted) as base64 JPEG, once per frame."""
        if self.image is None:
            return None
        if self._snapshot is None or self._snapshot[0] != self._frame_index:
            ok, jpg = cv2.imencode(".jpg", self.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if not ok:
                return None
            self._snapshot = (self._frame_index, base64.b64encode(jpg.tobytes()).decode())
        return self._snapshot[1]

    def _staff_pulse(self) -> bool:
        if self.pins is None or not self.analytics.staff_filter:
            return False
        try:
            return self._di.rising(self.pins.read("di"))
        except OccusenseError as exc:
            log.warning("cannot read DI: %s", exc)
            return False

    def _drive_alarm(self, alarm: bool | None) -> None:
        """R7: open DO above the threshold, close it within (on change only)."""
        if alarm is None or alarm == self.alarm or self.pins is None:
            return
        try:
            self.pins.write("do", int(alarm))
            self.alarm = alarm
            log.info("overcrowding alarm %s", "on (DO open)" if alarm else "off (DO closed)")
        except OccusenseError as exc:
            log.warning("cannot drive DO: %s", exc)

    def finish(self) -> FrameResult:
        """The source ended (or the configuration changed): settle open tracks,
        send what they complete, and let go of the detector."""
        self.last_ended = self.finder.finish()
        result = self.analytics.finish(self.last_ts, self.last_ended)
        self._emit(self.reporter.on_frame(result))
        self.finder.close()
        return result

    def _emit(self, reports: list[Report]) -> None:
        for report in reports:
            self.times.reports_sent += 1
            counts = self.times.by_feature
            counts[report.feature] = counts.get(report.feature, 0) + 1
            for sink in self.sinks:
                try:
                    sink.send(report)
                except Exception:  # one broken sink must not stop counting
                    log.exception("sink %s failed", type(sink).__name__)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def detect_ahead(
    finder: PeopleFinder,
    frames: Iterator[Frame],
    workers: int | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[PlannedFrame]:
    """``frames`` planned by ``finder``, in order, with up to ``workers``
    (default ``detector.threads``) detections running at once on worker
    threads.

    ONNX Runtime spreads one small inference over two cores poorly (measured:
    1.1x the speed of one core); two frames detected at once, one core each,
    run at up to 1.8x (bench/RESULTS.md). Tracking and counting stay in frame
    order on the caller's thread. Once ``stop()`` is true no more frames are
    taken from ``frames`` (the caller may go on with them) and the frames in
    flight are handed out.
    """
    workers = finder.workers if workers is None else workers
    if workers <= 1:
        for frame in frames:
            yield finder.plan(frame)
            if stop():
                return
        return
    window: deque[PlannedFrame] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="detect") as pool:
        for frame in frames:
            window.append(finder.plan(frame, pool))
            # one more in the window than workers: a worker never waits for
            # the caller to take a result
            if len(window) > workers:
                yield window.popleft()
            if stop():
                break
        while window:
            yield window.popleft()


def drive(
    pipeline: Pipeline,
    frames: Iterator[Frame],
    max_frames: int | None = None,
    on_frame: Callable[[Frame, FrameResult | None], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """The frame loop: the sensor (``runner.SensorRunner``), the accuracy
    evaluation, the benches and the tests all drive frames through this one,
    so what is measured is what runs. Frames are detected ahead on worker
    threads and stepped in order; ``on_frame`` sees each frame with its
    result; the loop ends when the frames or ``max_frames`` run out or
    ``stop()`` turns true. Returns the frames stepped."""
    count = 0
    for planned in detect_ahead(pipeline.finder, frames, stop=stop):
        result = pipeline.step(planned)
        if on_frame:
            on_frame(planned.frame, result)
        count += 1
        if max_frames is not None and count >= max_frames:
            break
    return count


def run_source(
    pipeline: Pipeline,
    source: FrameSource,
    max_frames: int | None = None,
    on_frame: Callable[[Frame, FrameResult | None], None] | None = None,
) -> int:
    """Feed ``source`` through ``pipeline`` (:func:`drive`), then settle it;
    return the number of frames."""
    frames = Prefetcher(source)
    try:
        count = drive(pipeline, iter(frames), max_frames, on_frame)
        pipeline.finish()
    finally:
        frames.close()
        pipeline.times.dropped = frames.dropped
    return count
