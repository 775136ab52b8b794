"""A real RTSP camera for the tests: GStreamer's RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0) serving a moving test picture as MJPEG over RTP
at rtsp://127.0.0.1:PORT/cam.

Run with Debian's /usr/bin/python3 (its python3-gi does not import in the
project's venv): ``/usr/bin/python3 rtsp_server.py PORT``. Prints ``ready``
once it listens; SIGTERM stops it.
"""

from __future__ import annotations

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = ("( videotestsrc is-live=true pattern=ball ! "
            "video/x-raw,format=I420,width=320,height=240,framerate=10/1 ! "
            "jpegenc ! rtpjpegpay name=pay0 pt=26 )")


def main() -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {sys.argv[1]}")
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    GLib.timeout_add(200, lambda: True)  # wakes the loop so the signal is seen
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
