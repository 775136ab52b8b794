"""The RTSP output (SPEC N1, guide 5.2.2): the camera's picture, privacy
masks painted, as H.264 at ``rtsp://HOST:PORT/main`` (and, with
``rtsp.overlays``, ``/overlay`` with the regions, line and people drawn),
in Normal privacy mode only. In a site (``occusense serve``) one server
serves every camera: ``rtsp://HOST:PORT/<id>`` and ``/<id>/overlay``.

Served by GStreamer's RTSP server (Debian's ``gir1.2-gst-rtsp-server-1.0``,
through PyGObject): a real RTSP server, with RTP over the RTSP TCP
connection ("better compatibility") or over UDP ("better performance"),
multicast when a group is set, and the DSCP mark on the stream's packets.
Frames go in through ``appsrc``: :meth:`RtspStream.push` hands over the
frame the sensor has just counted, only while a client watches (no encoding
for nobody); ``x264enc`` (zerolatency, ultrafast) encodes it.

Why GStreamer: it is the RTSP server library the registries ship that
speaks the whole protocol (DESCRIBE, SETUP over TCP/UDP/multicast, PLAY,
RTCP); PyAV and OpenCV only read streams. PyGObject is built against
Debian's GObject introspection at install time (scripts/install.sh); where
it is missing, the output says so once and the sensor counts on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import cv2
import numpy as np

from occusense.config.device import RtspPacketMode, RtspSettings
from occusense.errors import OccusenseError

log = logging.getLogger(__name__)


class RtspError(OccusenseError):
    """The RTSP output cannot start (no GStreamer, the port is taken)."""


def _gstreamer() -> tuple[Any, Any, Any, Any]:
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        gi.require_version("GstRtsp", "1.0")
        from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
    except (ImportError, ValueError) as exc:
        raise RtspError(f"RTSP output: GStreamer's RTSP server is not installed ({exc}); "
                        "scripts/install.sh installs it") from None
    Gst.init(None)
    return GLib, Gst, GstRtsp, GstRtspServer


class RtspServer:
    """One RTSP server listening on ``port``; cameras mount their streams on it.

    Args:
        port: the TCP port (a clear :class:`RtspError` when it cannot be bound).
        host: the address to listen on ("0.0.0.0" = every interface).
    """

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        glib, self.gst, self.rtsp_module, self.server_module = _gstreamer()
        self.host = host
        self.context = glib.MainContext.new()
        self.loop = glib.MainLoop.new(self.context, False)
        self.server = self.server_module.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        self.mounts = self.server.get_mount_points()
        self._source_id = self.server.attach(self.context)
        if self._source_id == 0:
            raise RtspError(f"rtsp.port {port}: cannot listen there (in use, or a "
                            "port below 1024 without root); choose another, e.g. 8554")
        self.port = self.server.get_bound_port()
        self._thread = threading.Thread(target=self.loop.run, daemon=True, name="rtsp")
        self._thread.start()

    def mount(self, prefix: str, settings: RtspSettings, width: int, height: int,
              fps: float) -> RtspStream:
        """A camera's stream at ``prefix`` (``/main`` for a single sensor,
        ``/<id>`` in a site), with ``prefix/overlay`` when overlays are on."""
        return RtspStream(self, prefix, settings, width, height, fps)

    def close(self) -> None:
        """Disconnect every client and stop listening."""
        remove = self.server_module.RTSPFilterResult.REMOVE
        self.server.client_filter(lambda server, client, *_: remove)
        source = self.context.find_source_by_id(self._source_id)
        if source is not None:
            source.destroy()  # the listening socket
        self.loop.quit()
        self._thread.join(timeout=2)


class _Path:
    """One mount point (``/main``, ``/overlay``): its factory and the
    ``appsrc`` of each prepared media."""

    def __init__(self, stream: RtspStream, path: str) -> None:
        server = stream.server
        self.path = path
        self.sources: list[Any] = []
        self.lock = threading.Lock()
        self.factory = server.server_module.RTSPMediaFactory()
        self.factory.set_launch(stream.launch())
        self.factory.set_shared(True)
        settings = stream.settings
        transport = server.rtsp_module.RTSPLowerTrans
        if settings.rtp_packet is RtspPacketMode.compatibility:
            self.factory.set_protocols(transport.TCP)
        else:
            self.factory.set_protocols(transport.UDP | transport.UDP_MCAST | transport.TCP)
        if settings.multicast_group:
            pool = server.server_module.RTSPAddressPool()
            pool.add_range(settings.multicast_group, settings.multicast_group, 5000, 5010, 16)
            self.factory.set_address_pool(pool)
        if settings.dscp:
            self.factory.set_dscp_qos(settings.dscp)
        self.factory.connect("media-configure", self._configure)

    def _configure(self, factory, media) -> None:
        source = media.get_element().get_child_by_name("frames")
        with self.lock:
            self.sources.append(source)
        media.connect("unprepared", lambda *_: self._forget(source))

    def _forget(self, source) -> None:
        with self.lock:
            if source in self.sources:
                self.sources.remove(source)

    def push(self, gst, frame: np.ndarray) -> None:
        with self.lock:
            sources = list(self.sources)
        if not sources:
            return
        buffer = gst.Buffer.new_wrapped(frame.tobytes())
        for source in sources:
            source.emit("push-buffer", buffer)

    def end(self) -> None:
        """End the stream of every client watching this path."""
        with self.lock:
            sources, self.sources = list(self.sources), []
        for source in sources:
            source.emit("end-of-stream")


class RtspStream:
    """One camera's picture on an :class:`RtspServer`: ``prefix`` and, with
    ``settings.overlays``, ``prefix/overlay``. Frames of another size than
    ``width`` x ``height`` are scaled to it."""

    def __init__(self, server: RtspServer, prefix: str, settings: RtspSettings, width: int,
                 height: int, fps: float) -> None:
        self.server = server
        self.settings = settings
        self.size = (int(width), int(height))
        self.fps = max(1, round(fps))
        self.paths = {"main": _Path(self, prefix)}
        if settings.overlays:
            self.paths["overlay"] = _Path(self, f"{prefix}/overlay")
        for path in self.paths.values():
            server.mounts.add_factory(path.path, path.factory)
        log.info("RTSP output: rtsp://%s:%d%s (%s)", server.host, server.port, prefix,
                 settings.rtp_packet.value)

    @property
    def port(self) -> int:
        return int(self.server.port)

    @property
    def path(self) -> str:
        """The main stream's path (``/main``, ``/<id>``)."""
        return self.paths["main"].path

    def launch(self) -> str:
        """The pipeline of one path: frames in, H.264 over RTP out."""
        width, height = self.size
        caps = (f"video/x-raw,format=BGR,width={width},height={height},"
                f"framerate={self.fps}/1")
        return (f"( appsrc name=frames is-live=true do-timestamp=true format=time "
                f"caps={caps} ! queue leaky=downstream max-size-buffers=2 ! videoconvert ! "
                f"video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast "
                f"bitrate={self.settings.bitrate_kbps} key-int-max={self.fps} ! "
                f"rtph264pay name=pay0 pt=96 config-interval=1 )")

    @property
    def watched(self) -> bool:
        return any(path.sources for path in self.paths.values())

    def push(self, frame: np.ndarray, overlay: np.ndarray | None = None) -> None:
        """The frame just counted (masks painted), and its picture with the
        overlays for the overlay path."""
        for name, image in (("main", frame), ("overlay", overlay)):
            path = self.paths.get(name)
            if path is None or image is None or not path.sources:
                continue
            if (image.shape[1], image.shape[0]) != self.size:
                image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
            path.push(self.server.gst, np.ascontiguousarray(image))

    def close(self) -> None:
        """Take the stream off the server: its clients' streams end."""
        for path in self.paths.values():
            self.server.mounts.remove_factory(path.path)
            path.end()


class RtspOutput(RtspStream):
    """A single sensor's own RTSP server on ``settings.port`` with its
    stream at ``/main``; closing it stops the server."""

    def __init__(self, settings: RtspSettings, width: int, height: int, fps: float,
                 host: str = "0.0.0.0") -> None:
        super().__init__(RtspServer(settings.port, host), "/main", settings, width, height, fps)

    def close(self) -> None:
        super().close()
        self.server.close()


class SiteStreams:
    """The RTSP server of a site (``occusense serve``): one port for every
    camera, each at ``/<id>``; started when the first camera's stream is
    mounted, stopped with the service.

    Args:
        port: the site's RTSP port (``site.yaml`` ``rtsp.port``); the
            cameras' own ``rtsp.port`` is not used in a site.
        host: the address to listen on.
    """

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        self.port = port
        self.host = host
        self._server: RtspServer | None = None
        self._lock = threading.Lock()

    def mount(self, camera: str, settings: RtspSettings, width: int, height: int,
              fps: float) -> RtspStream:
        with self._lock:
            if self._server is None:
                self._server = RtspServer(self.port, self.host)
            return self._server.mount(f"/{camera}", settings, width, height, fps)

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.close()
                self._server = None
