"""Data retransmission (SPEC T3): a durable, ordered outbox per recipient.

Every report bound for a recipient is written to SQLite (WAL mode, synchronous
FULL) before it is sent, and deleted only when the recipient acknowledged it
(HTTP 2xx, MQTT PUBACK/PUBCOMP), so a broker that is down, a receiver that is
off or a sensor killed with ``kill -9`` loses nothing: the worker resends in
order when the link returns. At most 1000 reports wait per recipient and 3000
in all; past that the oldest are dropped first (the guide's limits). Reports
carrying a snapshot are never stored (too large; the guide excludes them).

A store that SQLite cannot read is moved aside (``*.corrupt-<time>``, a copy
kept for inspection), the sensor says so and starts a fresh one.

A full disk is not corruption: the store is kept as it is, and what cannot
be written waits in memory (same limits), still delivered in order after
what the store holds; the sensor says once how many reports are in memory
only (lost if it stops before space returns), tries the disk again every
few seconds, and moves them to the store when space returns. A delivered
report that cannot be deleted from a full store is remembered as sent and
deleted later, never sent twice.
"""

from __future__ import annotations

import collections
import errno
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from occusense.files import private_dir, private_file

log = logging.getLogger(__name__)

PER_RECIPIENT = 1000
IN_ALL = 3000
RETRY_DISK_S = 5.0  # how often a full disk is tried again


LOW_SPACE = 256 * 1024  # bytes free below which a failed write is the disk's fault


def disk_full(exc: BaseException, folder: str | Path | None = None) -> bool:
    """SQLite's "database or disk is full", the OS's ENOSPC / EDQUOT, or any
    SQLite I/O error on a disk (``folder``'s) with next to no space left: a
    full disk is not a corrupt store."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    if "full" in str(exc).lower():
        return True
    return folder is not None and "i/o" in str(exc).lower() and _space(folder) < LOW_SPACE


def _space(folder: str | Path) -> int:
    try:
        stats = os.statvfs(folder)
    except OSError:
        return LOW_SPACE
    return stats.f_bavail * stats.f_frsize


class Outbox:
    """Reports waiting for their recipients, oldest first, safe across threads.

    Args:
        path: the SQLite file (``:memory:`` for tests that need no durability).
        per_recipient, in_all: the retention limits.
    """

    def __init__(
        self, path: str | Path, per_recipient: int = PER_RECIPIENT, in_all: int = IN_ALL
    ) -> None:
        self.path = str(path)
        self.per_recipient = per_recipient
        self.in_all = in_all
        self.dropped = 0
        self.recovered_from: Path | None = None
        self._folder = None if self.path == ":memory:" else Path(self.path).parent
        self._lock = threading.Lock()
        # reports the full disk did not take: (negative id, recipient, body), in order
        self._spill: collections.deque[tuple[int, str, str]] = collections.deque()
        self._next_spill = -1
        # delivered, not yet deleted from a full store: id -> recipient
        self._sent: dict[int, str] = {}
        self._moved: dict[int, int] = {}  # memory id -> store id, once space returned
        self._retry_at = 0.0
        self.disk_problem = ""  # while the disk is full: what it costs
        self._db: sqlite3.Connection | None = None
        self._read_only = False  # the store opened for reading alone (a full disk)
        try:
            self._db = self._open()
        except (sqlite3.OperationalError, OSError) as exc:
            if not disk_full(exc, self._folder):
                raise
            self._full(exc)
            self._db = self._read_store()

    def _read_store(self) -> sqlite3.Connection | None:
        """The store as it is on a full disk, for reading only (SQLite's
        immutable mode needs no -wal or -shm file): its reports are sent, in
        order, before those in memory, and deleted when space returns."""
        if not Path(self.path).is_file():
            return None
        try:
            db = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True,
                                 check_same_thread=False, isolation_level=None)
            db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        except sqlite3.DatabaseError as exc:
            log.warning("retransmission store %s cannot be read on the full disk (%s); its "
                        "reports are sent when space returns", self.path, exc)
            return None
        self._read_only = True
        return db

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if self.path == ":memory:" or disk_full(exc, self._folder):
                raise
            aside = Path(f"{self.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            Path(self.path).rename(aside)
            for suffix in ("-wal", "-shm"):
                extra = Path(self.path + suffix)
                if extra.exists():
                    extra.rename(Path(str(aside) + suffix))
            log.error(
                "retransmission store %s is unreadable (%s); kept it as %s and started a new one",
                self.path,
                exc,
                aside,
            )
            self.recovered_from = aside
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            private_dir(Path(self.path).parent)
            private_file(Path(self.path))
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " recipient TEXT NOT NULL, body TEXT NOT NULL, created REAL NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS by_recipient ON outbox (recipient, id)")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(check)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def add(self, recipient: str, body: str) -> int:
        """Store a report; drop the oldest past the limits. Returns its id
        (negative while it waits in memory for disk space)."""
        with self._lock:
            self._retry_disk()
            if self._db is not None and not self._read_only and not self._spill:
                try:
                    report_id, dropped = self._insert(self._db, recipient, body)
                except (sqlite3.OperationalError, OSError) as exc:
                    if not disk_full(exc, self._folder):
                        raise
                    self._full(exc)
                else:
                    self._count_dropped(dropped)
                    return report_id
            return self._to_memory(recipient, body)

    def _insert(self, db: sqlite3.Connection, recipient: str, body: str) -> tuple[int, int]:
        ids, dropped = self._insert_many(db, [(recipient, body)])
        return ids[0], dropped

    def _insert_many(self, db: sqlite3.Connection,
                     reports: list[tuple[str, str]]) -> tuple[list[int], int]:
        """Store reports in one transaction; their ids and how many old ones
        the limits dropped."""
        ids, dropped = [], 0
        try:
            db.execute("BEGIN IMMEDIATE")
            for recipient, body in reports:
                cur = db.execute(
                    "INSERT INTO outbox (recipient, body, created) VALUES (?, ?, ?)",
                    (recipient, body, time.time()),
                )
                ids.append(int(cur.lastrowid or 0))
            for recipient in dict.fromkeys(r for r, _ in reports):
                dropped += self._trim(db, recipient)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return ids, dropped

    def _count_dropped(self, dropped: int) -> None:
        before, self.dropped = self.dropped, self.dropped + dropped
        if dropped and (before == 0 or before // 100 != self.dropped // 100):
            log.warning(
                "retransmission store full: %d oldest report(s) dropped so far", self.dropped
            )

    # a full disk -------------------------------------------------------------
    def _full(self, exc: BaseException) -> None:
        if not self.disk_problem:
            log.error("retransmission store %s: the disk is full (%s); reports wait in memory "
                      "and are lost if the sensor stops before space returns", self.path, exc)
        self.disk_problem = f"disk full: {exc}"
        self._retry_at = time.monotonic() + RETRY_DISK_S

    def _to_memory(self, recipient: str, body: str) -> int:
        report_id, self._next_spill = self._next_spill, self._next_spill - 1
        self._spill.append((report_id, recipient, body))
        dropped = 0
        while True:  # the same limits as the store's, oldest first
            mine = [i for i, (_, r, _) in enumerate(self._spill) if r == recipient]
            if len(mine) > self.per_recipient:
                del self._spill[mine[0]]
            elif len(self._spill) > self.in_all:
                self._spill.popleft()
            else:
                break
            dropped += 1
        self._count_dropped(dropped)
        if len(self._spill) in (1, 10, 100) or len(self._spill) % 1000 == 0:
            log.warning("retransmission store: %d report(s) in memory only (disk full)",
                        len(self._spill))
        self.disk_problem = f"disk full: {len(self._spill)} report(s) in memory only"
        return report_id

    def _retry_disk(self) -> None:
        """When the disk had no space: try again (every few seconds), open
        the store if need be, move the reports from memory into it and
        delete what was sent meanwhile."""
        if not self.disk_problem or time.monotonic() < self._retry_at:
            return
        try:
            if self._db is None or self._read_only:
                db = self._connect()
                if self._db is not None:
                    self._db.close()
                self._db, self._read_only = db, False
            for report_id in list(self._sent):
                self._db.execute("DELETE FROM outbox WHERE id = ?", (report_id,))
                del self._sent[report_id]
            if self._spill:  # one transaction: the least the disk must take
                stored, dropped = self._insert_many(self._db,
                                                    [(r, b) for _, r, b in self._spill])
                for (spilled, _, _), report_id in zip(self._spill, stored, strict=True):
                    self._moved[spilled] = report_id  # a worker may be sending it now
                self._spill.clear()
                self._count_dropped(dropped)
        except (sqlite3.OperationalError, OSError) as exc:
            if not disk_full(exc, self._folder):
                raise
            self._retry_at = time.monotonic() + RETRY_DISK_S
            return
        log.info("retransmission store %s: disk space is back; every report is stored again",
                 self.path)
        self.disk_problem = ""

    def _trim(self, db: sqlite3.Connection, recipient: str) -> int:
        dropped = 0
        over = (
            db.execute("SELECT COUNT(*) FROM outbox WHERE recipient = ?", (recipient,)).fetchone()[
                0
            ]
            - self.per_recipient
        )
        if over > 0:
            dropped += db.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE recipient = ?"
                " ORDER BY id LIMIT ?)",
                (recipient, over),
            ).rowcount
        over = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] - self.in_all
        if over > 0:
            dropped += db.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                (over,),
            ).rowcount
        return dropped

    def oldest(self, recipient: str, limit: int = 1) -> list[tuple[int, str]]:
        with self._lock:
            self._retry_disk()
            found: list[tuple[int, str]] = []
            if self._db is not None:
                skip = len(self._sent)
                rows = self._db.execute(
                    "SELECT id, body FROM outbox WHERE recipient = ? ORDER BY id LIMIT ?",
                    (recipient, limit + skip),
                ).fetchall()
                found = [row for row in rows if row[0] not in self._sent][:limit]
            if len(found) < limit:  # the store's are older than those in memory
                found += [(i, b) for i, r, b in self._spill if r == recipient][
                    : limit - len(found)]
            return found

    def remove(self, report_id: int) -> None:
        with self._lock:
            report_id = self._moved.pop(report_id, report_id)
            if report_id < 0:
                for index, (spilled, _, _) in enumerate(self._spill):
                    if spilled == report_id:
                        del self._spill[index]
                        break
                if not self._spill and self._db is not None and not self._sent:
                    self._retry_at = 0.0
                return
            if self._db is None:
                return
            if self._read_only:
                self._sent[report_id] = self._recipient_of(report_id)
                return
            try:
                self._db.execute("DELETE FROM outbox WHERE id = ?", (report_id,))
            except (sqlite3.OperationalError, OSError) as exc:
                if not disk_full(exc, self._folder):
                    raise
                # sent: never again; deleted when space returns
                self._sent[report_id] = self._recipient_of(report_id)
                self._full(exc)

    def _recipient_of(self, report_id: int) -> str:
        assert self._db is not None
        row = self._db.execute("SELECT recipient FROM outbox WHERE id = ?",
                               (report_id,)).fetchone()
        return row[0] if row else ""

    def count(self, recipient: str | None = None) -> int:
        with self._lock:
            spilled = sum(1 for _, r, _ in self._spill if recipient is None or r == recipient)
            if self._db is None:
                return spilled
            if recipient is None:
                stored = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            else:
                stored = self._db.execute(
                    "SELECT COUNT(*) FROM outbox WHERE recipient = ?", (recipient,)
                ).fetchone()[0]
            sent = sum(1 for r in self._sent.values() if recipient is None or r == recipient)
            return stored + spilled - sent

    def close(self) -> None:
        with self._lock:
            if self._spill:
                log.error("retransmission store %s: %d report(s) that the full disk did not "
                          "take are lost", self.path, len(self._spill))
            if self._db is not None:
                self._db.close()
