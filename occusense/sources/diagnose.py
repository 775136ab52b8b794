"""Why a camera stream cannot be opened, in words an installer can act on.

OpenCV (which decodes the sensor's streams) only says "not opened"; the
RTSP or HTTP status behind it (401 a wrong password, 404 a wrong path) is
lost. So when a stream does not open, it is asked once more with PyAV (the
same FFmpeg underneath, whose errors keep the server's status). The URL is
never part of the answer: it may hold the camera's password.
"""

from __future__ import annotations

import av

PROBE_TIMEOUT_S = 10.0


def _named(exc: av.FFmpegError) -> str:
    if isinstance(exc, av.HTTPUnauthorizedError):
        return ("the camera refused the user name or password (401 Unauthorized): check "
                "the user and password in the URL (rtsp://USER:PASSWORD@HOST/PATH)")
    if isinstance(exc, av.HTTPForbiddenError):
        return "the camera refused this user (403 Forbidden): give the user viewing rights"
    if isinstance(exc, av.HTTPNotFoundError):
        return ("the camera has no stream at this path (404 Not Found): check the path "
                "(docs/rtsp.md lists those of common brands)")
    if isinstance(exc, av.ConnectionRefusedError):
        return "nothing answers at that host and port (connection refused)"
    if isinstance(exc, av.InvalidDataError):
        return ("the camera answered but sent no picture (no frames, or none that can "
                "be read)")
    if isinstance(exc, av.TimeoutError):
        return f"no answer within {PROBE_TIMEOUT_S:.0f} s (timed out)"
    reason = exc.strerror or type(exc).__name__
    return f"cannot be opened ({reason})"


def why_not_opened(url: str) -> str:
    """One line saying why ``url`` gives no frames: the server's refusal
    (401, 403, 404), no answer, or that it opens but sends no frame."""
    options = {"rtsp_transport": "tcp"} if url.lower().startswith("rtsp") else {}
    try:
        with av.open(url, options=options, timeout=PROBE_TIMEOUT_S) as container:
            if not container.streams.video:
                return "opened, but the stream has no video"
            video = container.streams.video[0]
            for _ in container.demux(video):
                return f"opened, but its {video.codec_context.name} picture cannot be decoded"
            return "opened but sent no frame"
    except av.FFmpegError as exc:
        return _named(exc)
    except OSError as exc:  # name resolution and other socket errors
        return f"cannot be opened ({exc.strerror or exc})"
