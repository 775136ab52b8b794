"""Server-side sessions for the web GUI (SPEC G2, issue 18).

The cookie holds only an opaque random ID (256 bits); what a session knows
(the user, its CSRF token) stays on the sensor, keyed by the ID's SHA-256,
so a stolen cookie file reveals nothing and every session can be ended on
the server: logging out ends that one, a password change, a reset of the
password by the security questions and a factory reset end them all.

Sessions of the logged-in admin are kept in ``<state_dir>/sessions.json``
(0600 in the private state folder) so a restart does not log everyone out;
they expire after 8 hours without use and 24 hours in all. A visitor who is
not logged in (the login or activation page: a session only for its CSRF
token) is kept in memory alone, in a bounded pool of its own: anonymous
requests cost no disk write and, however many, never push out the admin's
session.

Why not Starlette's ``SessionMiddleware``: it signs the whole session into
the cookie (readable by anyone who has it, and valid until it expires even
after logout). No maintained server-side store for Starlette fits a
single-process sensor without a database or Redis; this is 120 lines.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from occusense.files import load_state, write_atomic

log = logging.getLogger(__name__)

COOKIE = "occusense_session"
IDLE_S = 8 * 3600
LIFETIME_S = 24 * 3600
MAX_SESSIONS = 500  # logged-in sessions (logins are throttled); past it the oldest go
MAX_ANONYMOUS = 2000  # not logged in, in memory; past it the oldest anonymous go


class Session(dict):
    """A request's session data; remembers a ``clear()`` (a new login: the
    old ID must not carry over, against session fixation)."""

    cleared = False

    def clear(self) -> None:
        self.cleared = True
        super().clear()


def _saved_sessions(data: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(data, dict):
        raise ValueError("not a sessions file")
    return {k: v for k, v in data.items() if isinstance(v, dict) and _logged_in(v.get("data"))}


class SessionStore:
    """Sessions by the SHA-256 of their IDs, saved when they change.

    Args:
        path: where they are kept (None: memory only, for tests).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._sessions: dict[str, dict[str, Any]] = self._load()
        self._anonymous: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()

    def _load(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return {}
        saved = load_state(self.path, "the sessions", _saved_sessions, "everyone logs in again")
        return saved or {}

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            write_atomic(self.path, json.dumps(self._sessions), private_folder=True)
        except OSError as exc:  # a full disk: sessions go on in memory
            log.warning("sessions cannot be saved in %s (%s): a restart logs everyone out",
                        self.path, exc.strerror or exc)

    @staticmethod
    def _key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def get(self, session_id: str) -> dict[str, Any] | None:
        """The session's data, or None if unknown or expired."""
        now = time.time()
        key = self._key(session_id)
        with self._lock:
            visitor = self._anonymous.get(key)
            if visitor is not None:
                if now - visitor["created"] > IDLE_S:
                    del self._anonymous[key]
                    return None
                self._anonymous.move_to_end(key)
                return dict(visitor["data"])
            entry = self._sessions.get(key)
            if entry is None:
                return None
            if now - entry["used"] > IDLE_S or now - entry["created"] > LIFETIME_S:
                del self._sessions[self._key(session_id)]
                self._save()
                return None
            if now - entry["used"] > 60:  # coarse, so a page view is not a disk write
                entry["used"] = now
                self._save()
            return dict(entry["data"])

    def create(self, data: dict[str, Any]) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._put(self._key(session_id), data, time.time())
        return session_id

    def _put(self, key: str, data: dict[str, Any], created: float) -> None:
        """Keep a session: a logged-in one saved, an anonymous one in memory."""
        now = time.time()
        if not _logged_in(data):
            self._anonymous[key] = {"data": data, "created": created}
            self._anonymous.move_to_end(key)
            while len(self._anonymous) > MAX_ANONYMOUS:
                self._anonymous.popitem(last=False)
            return
        self._sessions[key] = {"data": data, "created": created, "used": now}
        while len(self._sessions) > MAX_SESSIONS:
            oldest = min(self._sessions, key=lambda k: self._sessions[k]["used"])
            del self._sessions[oldest]
        self._save()

    def update(self, session_id: str, data: dict[str, Any]) -> None:
        key = self._key(session_id)
        with self._lock:
            visitor = self._anonymous.get(key)
            if visitor is not None:
                if _logged_in(data):  # not reached by a login (a new ID), but kept safe
                    del self._anonymous[key]
                    self._put(key, data, visitor["created"])
                else:
                    visitor["data"] = data
                return
            entry = self._sessions.get(key)
            if entry is not None and entry["data"] != data:
                entry["data"] = data
                self._save()

    def end(self, session_id: str) -> None:
        key = self._key(session_id)
        with self._lock:
            self._anonymous.pop(key, None)
            if self._sessions.pop(key, None) is not None:
                self._save()

    def end_all(self) -> None:
        with self._lock:
            self._anonymous.clear()
            self._sessions.clear()
            self._save()

    def __len__(self) -> int:
        """Logged-in sessions."""
        with self._lock:
            return len(self._sessions)

    @property
    def anonymous(self) -> int:
        with self._lock:
            return len(self._anonymous)


class SessionMiddleware:
    """ASGI middleware: ``request.session`` backed by a :class:`SessionStore`.

    Args:
        app: the wrapped app.
        store: where sessions live.
        secure: the cookie's Secure flag (off only for plain-HTTP LANs).
    """

    def __init__(self, app: Any, store: SessionStore, secure: bool = True) -> None:
        self.app = app
        self.store = store
        self.secure = secure

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        session_id = _cookie(scope, COOKIE)
        data = self.store.get(session_id) if session_id else None
        if data is None:
            session_id = None
        session = Session(data or {})
        scope["session"] = session

        async def send_with_cookie(message: dict) -> None:
            if message["type"] == "http.response.start":
                header = self._settle(session_id, session)
                if header is not None:
                    message.setdefault("headers", []).append((b"set-cookie", header.encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _settle(self, session_id: str | None, session: Session) -> str | None:
        """Save the session; the Set-Cookie header value if the ID changed."""
        if session_id is not None and (session.cleared or not session):
            self.store.end(session_id)
            if not session:
                return self._cookie("", expire=True)
            session_id = None
        if session_id is None:
            return self._cookie(self.store.create(dict(session))) if session else None
        self.store.update(session_id, dict(session))
        return None

    def _cookie(self, value: str, expire: bool = False) -> str:
        parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        parts.append("Max-Age=0" if expire else f"Max-Age={LIFETIME_S}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def _logged_in(data: Any) -> bool:
    return isinstance(data, dict) and bool(data.get("user"))


def _cookie(scope: dict, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name and v:
                    return v
    return None
