"""A real RTSP camera for the tests: GStreamer's RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0) at rtsp://127.0.0.1:PORT/cam serving

- a moving test picture as MJPEG over RTP (the default);
- ``--h264 FILE``: an MJPEG AVI file (OpenCV writes one), decoded and
  encoded as H.264 (what IP cameras send), played at its own rate;
- ``--silent``: a stream that is described but never sends a frame;

and with ``--user U --password P``, only to a client with that password.

Run with Debian's /usr/bin/python3 (its python3-gi does not import in the
project's venv): ``/usr/bin/python3 rtsp_server.py PORT [options]``. Prints
``ready`` once it listens; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

MJPEG = ("( videotestsrc is-live=true pattern=ball ! "
         "video/x-raw,format=I420,width=320,height=240,framerate=10/1 ! "
         "jpegenc ! rtpjpegpay name=pay0 pt=26 )")
H264 = ("( filesrc location={file} ! avidemux ! jpegdec ! videoconvert ! video/x-raw,format=I420 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast bitrate=4000 key-int-max=10 ! "
        "rtph264pay name=pay0 pt=96 config-interval=1 )")
# described (the caps are known) but no buffer ever flows
SILENT = ("( appsrc name=never is-live=true format=time "
          "caps=image/jpeg,width=320,height=240,framerate=10/1 ! rtpjpegpay name=pay0 pt=26 )")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port")
    parser.add_argument("--h264")
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(args.port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(SILENT if args.silent else H264.format(file=args.h264) if args.h264
                       else MJPEG)
    factory.set_shared(True)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)
        factory.add_role_from_structure(Gst.Structure.new_from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {args.port}")
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    GLib.timeout_add(200, lambda: True)  # wakes the loop so the signal is seen
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
