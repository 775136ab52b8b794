"""P1 sources: file, folder, a real HTTP MJPEG stream that dies, bad sources."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from occusense.errors import SourceError
from occusense.sources import ImageFolderSource, LiveSource, VideoFileSource, open_source


def test_video_file_timestamps_follow_media_time(sample_video) -> None:
    source = open_source(str(sample_video), start_ts=1000.0)
    assert isinstance(source, VideoFileSource)
    assert (source.width, source.height, source.fps, source.frame_count) == (768, 576, 10.0, 795)
    frames = list(itertools.islice(source.frames(), 11))
    source.close()
    assert frames[0].timestamp == 1000.0
    assert frames[10].timestamp == pytest.approx(1001.0)
    assert frames[10].image.shape == (576, 768, 3)


def test_image_folder_in_name_order(tmp_path) -> None:
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"img{i:03d}.png"), np.full((40, 60, 3), i * 50, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(str(tmp_path), start_ts=0.0, folder_fps=5.0)
    assert isinstance(source, ImageFolderSource)
    frames = list(source.frames())
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 50, 100]
    assert [f.timestamp for f in frames] == [0.0, 0.2, 0.4]
    assert (source.width, source.height) == (60, 40)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: str(p / "missing.avi"), "neither a file"),
        (
            lambda p: (p / "fake.avi").write_text("garbage") and str(p / "fake.avi"),
            "cannot be decoded",
        ),
        (lambda p: (p / "empty").mkdir() or str(p / "empty"), "holds no images"),
        (lambda p: "", "no source given"),
    ],
)
def test_bad_sources_are_clear_errors(tmp_path, make, message) -> None:
    with pytest.raises(SourceError, match=message):
        open_source(make(tmp_path))


class _Stream:
    """A real HTTP MJPEG camera on loopback; each connection sends ``per_connection``
    frames and then drops, like a flaky camera."""

    def __init__(self, per_connection: int) -> None:
        self.counter = itertools.count()
        self.connections = 0
        stream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stream.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for _ in range(per_connection):
                    value = next(stream.counter) % 250
                    _ok, jpg = cv2.imencode(".jpg", np.full((48, 64, 3), value, np.uint8))
                    head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                    try:
                        self.wfile.write(head % len(jpg) + jpg.tobytes() + b"\r\n")
                    except OSError:
                        return
                    time.sleep(0.01)

            def log_message(self, *args) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky_stream() -> Iterator[_Stream]:
    stream = _Stream(per_connection=15)
    yield stream
    stream.stop()


def test_dropped_stream_reconnects_and_goes_on(flaky_stream) -> None:
    source = open_source(flaky_stream.url, max_backoff_s=1.0)
    assert isinstance(source, LiveSource) and (source.width, source.height) == (64, 48)
    began = time.time()
    frames = list(itertools.islice(source.frames(), 40))
    source.close()
    assert len(frames) == 40
    assert source.reconnects >= 2 and flaky_stream.connections >= 3
    assert [f.index for f in frames] == list(range(40))
    assert all(began - 1 <= f.timestamp <= time.time() for f in frames)  # wall clock


def test_stream_gone_for_good_stops_after_the_allowed_failures(flaky_stream) -> None:
    source = LiveSource(flaky_stream.url, max_backoff_s=0.5, stop_after_failures=2)
    flaky_stream.stop()
    frames = list(source.frames())
    assert 1 <= len(frames) <= 15


def test_a_stream_down_at_start_is_no_error_and_is_told_lost() -> None:
    source = open_source("http://127.0.0.1:9/nothing.mjpg")
    assert isinstance(source, LiveSource)
    assert not source.up and "connection refused" in source.problem  # said in words
    assert source.width == 0  # known from the first frame
    source.close()


def test_password_is_not_in_the_log(caplog) -> None:
    with caplog.at_level("DEBUG"):
        source = open_source("http://admin:hunter2@127.0.0.1:9/x.mjpg")
        source.close()
    assert "lost" in caplog.text
    assert "hunter2" not in caplog.text


def test_a_file_played_as_a_live_camera_drops_frames_instead_of_falling_behind(sample_video):
    from occusense.sources import Prefetcher

    source = open_source(str(sample_video), realtime=True)
    frames = Prefetcher(source)
    began, lags = time.time(), []
    try:
        for frame in frames:
            time.sleep(0.25)  # a sensor counting 4 frames a second of a 10 fps camera
            lags.append(time.time() - frame.timestamp)
            if time.time() - began > 4:
                break
    finally:
        frames.close()
    assert frames.dropped > 10  # counted, as for a live camera
    assert max(lags[-5:]) < 1.5  # still close to the camera's clock, not seconds behind
