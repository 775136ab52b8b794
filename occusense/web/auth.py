"""Accounts and sessions for the web GUI and API (SPEC G1, G2).

- Passwords: 8-32 characters with a letter and a number (the guide's rule),
  stored only as argon2id hashes (argon2-cffi); security answers likewise.
- Sessions: Starlette's signed session cookie, HttpOnly, SameSite=Strict,
  Secure unless ``web.secure_cookies`` is turned off for plain-HTTP LANs.
- CSRF: every session carries a random token; every state-changing request
  made with the session cookie must echo it (form field ``csrf_token`` or
  header ``X-CSRF-Token``). Bearer-token API calls carry no cookie and need
  none.
- Throttling: 5 failed logins from one address within 5 minutes lock that
  address out for 5 minutes. The lockout is checked before any hash is
  computed, and hashes run off the event loop, at most
  ``HASHES_AT_ONCE`` at a time (each argon2 hash takes 64 MiB and tens of
  milliseconds of a core): a client guessing answers cannot stall the web
  server or fill the memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import threading
import time
import weakref

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SECURITY_QUESTIONS = (
    "What's your father's name?",
    "What's your favorite sport?",
    "What's your mother's name?",
    "What's your mobile number?",
    "What's your first pet's name?",
    "What's your favorite book?",
    "What's your favorite game?",
    "What's your favorite food?",
    "What's your lucky number?",
    "What's your favorite color?",
    "What's your best friend's name?",
    "Where did you go on your first trip?",
)
MAX_FAILURES = 5
WINDOW_S = 300.0
HASHES_AT_ONCE = 2
_hasher = PasswordHasher()
_hashing: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary())


def password_problem(password: str) -> str | None:
    """Why ``password`` breaks the guide's rule, or None."""
    if not 8 <= len(password) <= 32:
        return "the password must be 8 to 32 characters long"
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        return "the password must contain at least one letter and one number"
    return None


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored: str, given: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


def _hash_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _hashing:
        _hashing[loop] = asyncio.Semaphore(HASHES_AT_ONCE)
    return _hashing[loop]


async def hash_later(secret: str) -> str:
    """:func:`hash_secret` on a worker thread, bounded."""
    async with _hash_slots():
        return await asyncio.to_thread(hash_secret, secret)


async def verify_later(stored: str, given: str) -> bool:
    """:func:`verify_secret` on a worker thread, bounded."""
    if not stored:
        return False
    async with _hash_slots():
        return await asyncio.to_thread(verify_secret, stored, given)


def normalise_answer(answer: str) -> str:
    return " ".join(answer.lower().split())


class Throttle:
    """Counts failed logins per client address."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked_for(self, client: str) -> float:
        """Seconds ``client`` must still wait (0 = may try)."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < self.window_s]
            self._failures[client] = recent
            if len(recent) < self.limit:
                return 0.0
            return self.window_s - (now - recent[-self.limit])

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, []).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


class Tokens:
    """API bearer tokens, kept as SHA-256 digests in memory until restart."""

    def __init__(self) -> None:
        self._digests: set[str] = set()

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        self._digests.add(hashlib.sha256(token.encode()).hexdigest())
        return token

    def valid(self, token: str) -> bool:
        return hashlib.sha256(token.encode()).hexdigest() in self._digests

    def revoke_all(self) -> None:
        self._digests.clear()
