"""Serves a web app (a sensor's, or a site's) with uvicorn on a background thread."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp


class WebServer:
    """uvicorn in a thread; ``url`` once started, ``stop`` to shut it down.

    Args:
        trusted_proxies: the only peers whose X-Forwarded-For / -Proto
            headers are believed (uvicorn by default believes any local
            peer: a script on the sensor could then reset its own login
            lockout by naming another address).
    """

    def __init__(self, app: ASGIApp, host: str, port: int,
                 trusted_proxies: list[str] | None = None) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False,
            timeout_graceful_shutdown=1,  # a live video stream must not hold up a stop
            proxy_headers=bool(trusted_proxies),
            forwarded_allow_ips=list(trusted_proxies or []) or "",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise OSError(f"the web GUI cannot listen on {host}:{port}")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1] if self._server.servers else port
        self.url = f"http://{host}:{port}/"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
