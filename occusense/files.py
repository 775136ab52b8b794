"""Files the sensor must never leave half-written."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from occusense.errors import StateDirError, StateLockedError

log = logging.getLogger(__name__)
T = TypeVar("T")


def private_dir(path: str | Path) -> Path:
    """Make ``path`` (and missing parents) a folder only its owner can enter
    (0700): the sensor's state holds reports, keys and password hashes."""
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            path.chmod(0o700)  # made by an older version, or by hand
    except OSError as exc:
        raise unwritable(path, exc) from None
    return path


def unwritable(folder: Path, exc: OSError) -> StateDirError:
    """The one clear error of a state folder the sensor cannot write."""
    return StateDirError(
        f"state directory {folder} cannot be written ({exc.strerror or exc}): the sensor "
        "keeps its settings, outbox and sessions there; give it a writable folder "
        "(state_dir) or free some space")


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if missing, else make it 0600, so a
    library that opens it (SQLite) never writes a world-readable file; SQLite
    gives its -wal and -shm files the mode of the database."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if each.exists() and stat.S_IMODE(each.stat().st_mode) != 0o600:
            each.chmod(0o600)
    return path


def write_atomic(path: Path, text: str, private_folder: bool = False) -> None:
    """Replace ``path`` with ``text`` in one step: a crash leaves the old file
    or the new one, never a mix. The file is private (0600, as ``mkstemp``
    makes it): it may hold keys, counters or password hashes; with
    ``private_folder`` its folder is made 0700 too (the state directory)."""
    if private_folder:
        private_dir(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_aside(path: Path) -> Path:
    """Move an unreadable state file out of the way (kept for inspection as
    ``<name>.corrupt-<unix time>``), so the sensor can start a fresh one."""
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    path.replace(aside)
    return aside


UNUSABLE = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


def load_state(path: Path, what: str, parse: Callable[[Any], T], then: str) -> T | None:
    """A JSON state file read and turned into what the sensor keeps by
    ``parse`` (which raises on any shape it cannot use); None when there is
    none. A file that cannot be used (broken JSON, valid JSON of another
    shape, a wrong type inside) is set aside as ``<name>.corrupt-<time>``,
    never overwritten, and said once in the log with what happens ``then``
    ("counting from 0")."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problem: Exception = exc
    else:
        try:
            return parse(json.loads(text))
        except UNUSABLE as exc:
            problem = exc
    set_aside_said(path, f"{what} {path} is unreadable ({problem})", then)
    return None


def set_aside_said(path: Path, why: str, then: str) -> None:
    """:func:`set_aside` ``path`` and say so once: ``why``, where it was
    kept, and what happens ``then``."""
    try:
        kept = f"kept as {set_aside(path).name}"
    except OSError:
        kept = "left where it is"
    log.warning("%s: %s, %s", why, kept, then)


class StateLock:
    """One running sensor per state directory (two would send every report
    twice and out of order from one outbox).

    An exclusive ``flock`` on ``<state_dir>/lock``, which holds the holder's
    PID for the error message. The kernel releases the lock when the holder
    exits in any way (``kill -9`` included), so a lock left by a killed
    process never blocks the next start: no PID guessing, no stale files.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with StateLock(folder):
        ...     StateLock(folder).acquire()
        Traceback (most recent call last):
        ...
        occusense.errors.StateLockedError: ...
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / "lock"
        self._fd: int | None = None

    def acquire(self) -> StateLock:
        private_dir(self.path.parent)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise unwritable(self.path.parent, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StateLockedError(
                f"{self.path.parent} is in use by another running occusense (PID {holder}); "
                "stop it, or give this one its own state_dir"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:  # a full disk: the lock holds, only its PID is not written
            pass
        self._fd = fd
        return self

    def lost(self) -> bool:
        """The lock file (and so, most often, the state folder) was deleted or
        replaced while held: another process could take the folder now."""
        if self._fd is None:
            return False
        try:
            return self.path.stat().st_ino != os.fstat(self._fd).st_ino
        except OSError:
            return True

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)  # no PID of a process that has gone
            except OSError:
                pass
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
