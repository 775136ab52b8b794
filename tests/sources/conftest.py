"""The RTSP test server runs under Debian's Python, not in pytest."""

collect_ignore = ["rtsp_server.py"]
