"""Realtime location push (SPEC T4): a TCP server streaming people positions.

Every connected client receives one JSON line per analysed frame::

    {"timestamp": "2026-11-23T09:00:01.300+00:00", "frame": 13,
     "people": [{"id": 4, "box": [x1, y1, x2, y2], "centre": [x, y],
                 "region": [1]}, ...]}

Coordinates are pixels of the camera image; ``region`` lists the mapped
regions (numbered from 1) the person is counted in. Each client has its own
small queue served by its own thread: a slow or stalled client loses its
oldest lines (counted in ``dropped``), never the pipeline's time.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading

log = logging.getLogger(__name__)
CLIENT_QUEUE = 50


class _Client:
    def __init__(self, conn: socket.socket, address) -> None:
        self.conn = conn
        self.address = address
        self.lines: collections.deque[bytes] = collections.deque(maxlen=CLIENT_QUEUE)
        self.ready = threading.Condition()
        self.alive = True
        self.dropped = 0

    def offer(self, line: bytes) -> None:
        with self.ready:
            if len(self.lines) == self.lines.maxlen:
                self.dropped += 1
            self.lines.append(line)
            self.ready.notify()

    def serve(self) -> None:
        try:
            while self.alive:
                with self.ready:
                    while self.alive and not self.lines:
                        self.ready.wait(timeout=1.0)
                    if not self.alive:
                        return
                    line = self.lines.popleft()
                self.conn.sendall(line)
        except OSError:
            pass
        finally:
            self.alive = False
            self.conn.close()

    def stop(self) -> None:
        with self.ready:
            self.alive = False
            self.ready.notify()


class LocationServer:
    """Accepts TCP clients on ``host:port`` and pushes lines to all of them.

    Args:
        port: the TCP port (0 = any free port; see ``port`` after start).
        host: the address to listen on.
    """

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        self._sock = socket.create_server((host, port), reuse_port=False)
        self._sock.settimeout(0.5)
        self.port = self._sock.getsockname()[1]
        self._clients: list[_Client] = []
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._accept, name="location push", daemon=True)
        self._thread.start()
        log.info("realtime location push on TCP port %d", self.port)

    def _accept(self) -> None:
        while self._running:
            try:
                conn, address = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = _Client(conn, address)
            with self._lock:
                self._clients.append(client)
            threading.Thread(target=client.serve, daemon=True, name=f"push {address}").start()

    @property
    def clients(self) -> int:
        with self._lock:
            self._clients = [c for c in self._clients if c.alive]
            return len(self._clients)

    @property
    def dropped(self) -> int:
        """Lines dropped for clients too slow to read them."""
        with self._lock:
            return sum(c.dropped for c in self._clients)

    def push(self, line: str) -> None:
        """Queue one line for every client; returns at once."""
        data = line.encode() + b"\n"
        with self._lock:
            for client in self._clients:
                if client.alive:
                    client.offer(data)

    def close(self) -> None:
        self._running = False
        self._sock.close()
        self._thread.join(timeout=2)
        with self._lock:
            for client in self._clients:
                client.stop()
