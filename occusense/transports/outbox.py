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
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from occusense.files import private_dir, private_file

log = logging.getLogger(__name__)

PER_RECIPIENT = 1000
IN_ALL = 3000


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
        self._lock = threading.Lock()
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if self.path == ":memory:":
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
        """Store a report; drop the oldest past the limits. Returns its id."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            cur = db.execute(
                "INSERT INTO outbox (recipient, body, created) VALUES (?, ?, ?)",
                (recipient, body, time.time()),
            )
            dropped = self._trim(db, recipient)
            db.execute("COMMIT")
            before, self.dropped = self.dropped, self.dropped + dropped
        if dropped and (before == 0 or before // 100 != self.dropped // 100):
            log.warning(
                "retransmission store full: %d oldest report(s) dropped so far", self.dropped
            )
        return int(cur.lastrowid or 0)

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
            return self._db.execute(
                "SELECT id, body FROM outbox WHERE recipient = ? ORDER BY id LIMIT ?",
                (recipient, limit),
            ).fetchall()

    def remove(self, report_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (report_id,))

    def count(self, recipient: str | None = None) -> int:
        with self._lock:
            if recipient is None:
                return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            return self._db.execute(
                "SELECT COUNT(*) FROM outbox WHERE recipient = ?", (recipient,)
            ).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
