"""Video sources (SPEC P1): file, image folder, webcam, RTSP/HTTP stream.

Every source yields :class:`Frame` objects carrying a timestamp: the media
time (added to the run's start time) for files and folders, the wall clock
for live sources. Live sources reconnect with exponential back-off when the
stream dies; files end. OpenCV does the decoding.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from occusense.errors import SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
STREAM_TIMEOUT_MS = 10_000
LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://")


@dataclass
class Frame:
    """A decoded BGR image, its 0-based index and its timestamp (POSIX s)."""

    image: np.ndarray
    index: int
    timestamp: float


class FrameSource:
    """Base: iterate frames; ``fps`` and ``live`` describe the source."""

    fps: float = 10.0
    live: bool = False
    frame_count: int | None = None
    width: int = 0
    height: int = 0

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def stop(self) -> None:
        """Ask :meth:`frames` to end soon, from another thread."""

    def close(self) -> None:
        """Release the device or file."""


class VideoFileSource(FrameSource):
    """A video file decoded frame by frame; timestamps follow media time.

    Args:
        path: the file.
        start_ts: the timestamp of the first frame.
        realtime: sleep so frames come out at the file's frame rate.
        loop: start again from the first frame at the end, for ever (media
            time goes on: a replay looks like a camera that never stops).
    """

    def __init__(
        self, path: str, start_ts: float, realtime: bool = False, loop: bool = False
    ) -> None:
        if not Path(path).is_file():
            raise SourceError(f"video file {path!r} does not exist")
        self._cap = cv2.VideoCapture(path)
        if not self._cap.isOpened():
            raise SourceError(f"video file {path!r} cannot be decoded by OpenCV")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else 25.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 and not loop else None
        self.loop = loop
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.start_ts = start_ts
        self.realtime = realtime
        self.path = path

    def frames(self) -> Iterator[Frame]:
        index = 0
        began = time.monotonic()
        since_start = 0  # frames since the file last started
        while True:
            ok, image = self._cap.read()
            if not ok:
                if not self.loop or since_start == 0:
                    return
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                since_start = 0
                continue
            since_start += 1
            media_s = index / self.fps
            if self.realtime:
                lag = media_s - (time.monotonic() - began)
                if lag > 0:
                    time.sleep(lag)
            yield Frame(image, index, self.start_ts + media_s)
            index += 1

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource(FrameSource):
    """Images of a folder in name order, as frames at ``fps``."""

    def __init__(self, folder: str, start_ts: float, fps: float = 10.0) -> None:
        self.files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"folder {folder!r} holds no images ({IMAGE_SUFFIXES})")
        self.fps = fps
        self.frame_count = len(self.files)
        self.start_ts = start_ts
        first = cv2.imread(str(self.files[0]), cv2.IMREAD_COLOR)
        if first is None:
            raise SourceError(f"{self.files[0]} is not a readable image")
        self.height, self.width = first.shape[:2]

    def frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("skipping %s: not a readable image", path)
                continue
            yield Frame(image, index, self.start_ts + index / self.fps)


class LiveSource(FrameSource):
    """A webcam index or a stream URL; reconnects with back-off, never ends.

    A camera that is down when the sensor starts is no error: buildings'
    cameras often boot after the server. It is tried with the same back-off
    as a stream that dropped (0.5 s doubling to ``max_backoff_s``); the
    frame size is known from the first frame. Each outage is logged once
    when it starts and once when it ends, and told to ``on_status`` (the
    sensor says "camera lost" where receivers look; it makes up no counts).

    Args:
        target: webcam index (int) or URL.
        max_backoff_s: the longest wait between reconnection attempts.
        stop_after_failures: give up after this many failed reconnects in a
            row (None = never, what a sensor on a wall wants).
    """

    live = True

    def __init__(
        self,
        target: int | str,
        max_backoff_s: float = 30.0,
        stop_after_failures: int | None = None,
    ) -> None:
        self.target = target
        self.max_backoff_s = max_backoff_s
        self.stop_after_failures = stop_after_failures
        self.reconnects = 0
        self.up = False
        self.problem = ""
        self.down_since: float | None = None
        self.on_status: Callable[[bool, str], None] | None = None
        self._stopping = threading.Event()
        self._pending: np.ndarray | None = None
        self._cap = self._open()
        if self._cap is None:
            self._lost(self._why("cannot be opened"))
            return
        ok, image = self._cap.read()
        if not ok:
            self._cap.release()
            self._cap = None
            self._lost(self._why("opened but sent no frame"))
            return
        self._pending = image
        self._found(image)

    @property
    def name(self) -> str:
        return redact(self.target)

    def _why(self, fallback: str) -> str:
        """What the stream's server says (a wrong password, a wrong path);
        a webcam index has no server to ask."""
        if not isinstance(self.target, str):
            return fallback
        from occusense.sources.diagnose import why_not_opened  # PyAV, only when needed

        return why_not_opened(self.target)

    def _open(self) -> cv2.VideoCapture | None:
        if isinstance(self.target, str):
            # a stream that stalls for this long is lost (FFmpeg's default waits 30 s)
            cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
        else:
            cap = cv2.VideoCapture(self.target)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _found(self, image: np.ndarray) -> None:
        """The camera delivers: its size and rate; the end of an outage."""
        self.height, self.width = image.shape[:2]
        fps = self._cap.get(cv2.CAP_PROP_FPS) if self._cap is not None else 0
        self.fps = fps if 0 < fps < 1000 else 25.0
        if self.down_since is not None:
            log.info("camera %s is back after %.0f s of outage", self.name,
                     time.time() - self.down_since)
        self.up, self.problem, self.down_since = True, "", None
        self._tell()

    def _lost(self, why: str) -> None:
        """The start of an outage (logged once, however long it lasts)."""
        if self.down_since is not None:
            return
        self.up, self.problem, self.down_since = False, why, time.time()
        log.warning("camera %s lost: %s; reconnecting with back-off (up to every %.0f s)",
                    self.name, why, self.max_backoff_s)
        self._tell()

    def _tell(self) -> None:
        if self.on_status is not None:
            try:
                self.on_status(self.up, self.problem)
            except Exception:  # a receiver's failure must not stop the camera
                log.exception("camera status")

    def frames(self) -> Iterator[Frame]:
        index = 0
        while not self._stopping.is_set():
            if self._pending is not None:
                ok, image, self._pending = True, self._pending, None
            elif self._cap is not None:
                ok, image = self._cap.read()
            else:
                ok, image = False, None
            if ok and image is not None:
                yield Frame(image, index, time.time())
                index += 1
                continue
            if not self._reconnect():
                return

    def _reconnect(self) -> bool:
        if self._cap is not None:
            self._cap.release()
            self._lost("the stream stopped")
        self._cap, delay, failures = None, 0.5, 0
        while not self._stopping.is_set():
            if self._stopping.wait(delay):
                return False
            cap = self._open()
            ok, image = cap.read() if cap is not None else (False, None)
            if ok and image is not None:
                self._cap, self._pending = cap, image
                self.reconnects += 1
                self._found(image)
                return True
            if cap is not None:
                cap.release()
            failures += 1
            log.debug("camera %s: attempt %d failed; next in %.1f s", self.name, failures,
                      min(delay * 2, self.max_backoff_s))
            if self.stop_after_failures is not None and failures >= self.stop_after_failures:
                return False
            delay = min(delay * 2, self.max_backoff_s)
        return False

    def stop(self) -> None:
        """End :meth:`frames` soon (from another thread), a back-off wait included."""
        self._stopping.set()

    def close(self) -> None:
        self._stopping.set()
        if self._cap is not None:
            self._cap.release()


class Prefetcher:
    """Decodes frames on a background thread, a few frames ahead.

    Decoding then overlaps inference. For files the reader waits when the
    queue is full (no frame is lost); for live sources (and files played at
    their own pace) it drops the oldest queued frame instead, so a slow
    detector never makes the sensor lag behind the camera, and counts what it
    dropped in ``dropped``.
    """

    _END = object()

    def __init__(self, source: FrameSource, depth: int = 4) -> None:
        self.source = source
        self.dropped = 0
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="decoder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for frame in self.source.frames():
                if self._stop.is_set():
                    return
                self._put(frame)
        except Exception as exc:  # handed to the consumer, raised there
            self._put(exc)
        finally:
            self._put(self._END, always=True)

    @property
    def paced(self) -> bool:
        """Frames come at the camera's pace: a live source, or a file played
        as one (``--realtime``): a slow sensor drops the oldest rather than
        falling behind the camera's clock."""
        return self.source.live or bool(getattr(self.source, "realtime", False))

    def _put(self, item: object, always: bool = False) -> None:
        while not self._stop.is_set():
            if self.paced and not always and self._queue.full():
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Frame]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def interrupt(self) -> None:
        """End the iteration now (from another thread): the consumer waiting
        for a frame gets the end instead, even while a live source reconnects."""
        self._stop.set()
        self.source.stop()
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._queue.put_nowait(self._END)

    def close(self) -> None:
        self._stop.set()
        self.source.stop()
        self._thread.join(timeout=5)
        self.source.close()


def redact(target: int | str) -> str:
    """A URL without its password, for logs."""
    text = str(target)
    if "@" in text and "://" in text:
        scheme, rest = text.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return text


def open_source(
    uri: str,
    start_ts: float | None = None,
    realtime: bool | None = None,
    folder_fps: float = 10.0,
    max_backoff_s: float = 30.0,
    loop: bool = False,
) -> FrameSource:
    """Open ``uri`` as the right kind of source, or raise :class:`SourceError`
    (``loop``: a video file replays from the start when it ends)."""
    if not uri:
        raise SourceError("no source given: pass --source or set source.uri")
    start = time.time() if start_ts is None else start_ts
    if uri.isdigit():
        return LiveSource(int(uri), max_backoff_s)
    if uri.lower().startswith(LIVE_PREFIXES):
        return LiveSource(uri, max_backoff_s)
    path = Path(uri)
    if path.is_dir():
        return ImageFolderSource(uri, start, folder_fps)
    if path.is_file():
        return VideoFileSource(uri, start, bool(realtime), loop)
    raise SourceError(
        f"source {uri!r} is neither a file, a folder, a webcam index nor a stream URL"
    )
