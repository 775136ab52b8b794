"""The history store (issue 26): every report and a per-minute series of the
counts, in SQLite in the state directory by default or in PostgreSQL for a
site (``history.url: postgresql://...``, one schema for every camera).

Series (names as the API and ``occusense history`` take them):

- ``people``: everyone the camera counts; ``region:<name>`` per region
  (``region:west walkway``): per minute the mean and the peak of the people
  there;
- ``line:in``, ``line:out``: crossings per minute;
- ``flow:<entry>-<exit>`` (``flow:A-C``): people per minute.

A query sums minutes into buckets (``minute``, ``hour``, ``day``, ``week``)
aligned to the device's time zone: local hours, local midnight, weeks from
Monday; a level series gives each bucket's mean (over the minutes the
sensor counted) and peak, an event series its total.

Writes never hold up the video: the frame loop hands each finished minute
to a writer thread (one transaction a minute). Old data goes by
``history.retention_days``, and in SQLite also by ``history.max_mb``,
oldest first.

Why SQLAlchemy (Core, no ORM): one set of tables and queries for SQLite and
PostgreSQL, with the well-kept drivers (the standard library's sqlite3,
psycopg 3); bucketing is done in Python on 15-minute sums, because local
days and weeks (DST, half-hour zones) are not the same SQL in both.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from occusense.clock import DeviceClock
from occusense.errors import ConfigError, OccusenseError
from occusense.files import private_file, set_aside

log = logging.getLogger(__name__)

HISTORY_DB = "history.sqlite"
BUCKETS = ("minute", "hour", "day", "week")
SLOT_MIN = 15  # the database sums minutes into slots of this many before local bucketing
EVENT_PREFIXES = ("line:", "flow:")
FLUSH_S = 1.0  # the open minute reaches the store at most this far behind
RETRY_S = 5.0  # how often a store that is away is tried again
CONNECT_TIMEOUT_S = 5  # a database server that does not answer
MAX_WAITING_MIN = 24 * 60  # minutes kept in memory while the store is away
MAX_WAITING_REPORTS = 20_000
MAX_MINUTE_DAYS = 31  # minute buckets: the most days one query may cover
EARLIEST, LATEST = 0.0, 32_503_680_000.0  # 1970-01-01 .. 3000-01-01: what a query may name
QUERY_SLOTS = 1  # history queries run at once (each one holds a core's worth of Python)
QUERY_LINE = 4  # queries that may wait for a slot; more are told to come back (503)
QUERY_REST = 1.0  # a slot rests this share of a query's time before the next one

metadata = sa.MetaData()
minutes = sa.Table(
    "occusense_minutes", metadata,
    sa.Column("camera", sa.String(64), primary_key=True),
    sa.Column("series", sa.String(160), primary_key=True),
    sa.Column("minute", sa.BigInteger, primary_key=True),  # unix time // 60
    sa.Column("mean", sa.Float),
    sa.Column("peak", sa.Float),
    sa.Column("total", sa.Integer),
    sa.Column("samples", sa.Integer),  # the frames a level's mean is over (to add a part)
    # SQLite: the rows live in the key's B-tree (measured: 61 -> 34 MB a camera-month,
    # queries twice as fast)
    sqlite_with_rowid=False,
)
reports = sa.Table(
    "occusense_reports", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("camera", sa.String(64), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("feature", sa.String(16), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index("occusense_reports_by_time", "camera", "ts"),
)


class HistoryError(OccusenseError):
    """The history store cannot be opened or queried."""


class HistoryUnavailable(HistoryError):
    """The store is away (its server down) or busy: try again later (503)."""


def is_event(series: str) -> bool:
    return series.startswith(EVENT_PREFIXES)


@dataclass
class _Minute:
    """What one minute's frames added to every series since the last hand-over:
    per level series the sum, the number and the peak of its samples."""

    minute: int
    levels: dict[str, list[float]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add_level(self, series: str, value: float) -> None:
        acc = self.levels.get(series)
        if acc is None:
            self.levels[series] = [value, 1, value]
        else:
            acc[0] += value
            acc[1] += 1
            acc[2] = max(acc[2], value)

    def rows(self, camera: str) -> list[dict[str, Any]]:
        out = [{"camera": camera, "series": s, "minute": self.minute, "mean": total / n,
                "peak": peak, "total": None, "samples": int(n)}
               for s, (total, n, peak) in self.levels.items() if n]
        out += [{"camera": camera, "series": s, "minute": self.minute, "mean": None,
                 "peak": None, "total": n, "samples": None} for s, n in self.events.items()]
        return out


def merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two parts of one minute's row added up, as the store adds a part to a
    minute it holds: a mean weighted by its samples, the higher peak, the
    totals summed."""
    if new["total"] is not None:
        return old | {"total": (old["total"] or 0) + new["total"]}
    old_n = old["samples"] if old["samples"] is not None else new["samples"]
    n = old_n + new["samples"]
    return old | {"mean": (old["mean"] * old_n + new["mean"] * new["samples"]) / n,
                  "peak": max(old["peak"], new["peak"]), "samples": n}


class _Waiting:
    """Rows handed to the writer and not yet in the store: minutes merged by
    key, reports in order; at most ``max_minutes`` minutes (the oldest go
    first, counted in ``lost_minutes``) and ``max_reports`` reports."""

    def __init__(self, max_minutes: int = MAX_WAITING_MIN,
                 max_reports: int = MAX_WAITING_REPORTS) -> None:
        self.max_minutes, self.max_reports = max_minutes, max_reports
        self.minutes: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.by_minute: dict[int, list[tuple[str, str, int]]] = {}
        self.reports: list[dict[str, Any]] = []
        self.lost_minutes = 0
        self.lost_reports = 0

    def __bool__(self) -> bool:
        return bool(self.minutes or self.reports)

    def add(self, minute_rows: list[dict], report_rows: list[dict]) -> None:
        for row in minute_rows:
            key = (row["camera"], row["series"], row["minute"])
            held = self.minutes.get(key)
            if held is None:
                self.minutes[key] = row
                self.by_minute.setdefault(row["minute"], []).append(key)
            else:
                self.minutes[key] = merged(held, row)
        while len(self.by_minute) > self.max_minutes:
            for key in self.by_minute.pop(min(self.by_minute)):
                del self.minutes[key]
            self.lost_minutes += 1
        self.reports.extend(report_rows)
        if len(self.reports) > self.max_reports:
            excess = len(self.reports) - self.max_reports
            del self.reports[:excess]
            self.lost_reports += excess

    def clear(self) -> None:
        self.minutes.clear()
        self.by_minute.clear()
        self.reports.clear()


def engine_for(url: str, state_dir: str | Path) -> sa.Engine:
    """The database of ``history.url`` (empty: SQLite in the state directory)."""
    if not url:
        return sqlite_engine(Path(state_dir) / HISTORY_DB)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        # a server that does not answer must not hold the writer for minutes
        return sa.create_engine(url, pool_pre_ping=True,
                                connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigError(f"history.url: {exc}") from None


def sqlite_engine(path: Path) -> sa.Engine:
    """A private (0600) SQLite file in WAL mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    private_file(path)  # SQLite gives its -wal and -shm files the database's mode
    engine = sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _wal(connection, _record) -> None:  # readers never wait for the writer
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    return engine


def _damaged(exc: Exception) -> bool:
    """SQLite's words for a file that is not (or no longer) a database."""
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "file is encrypted" in text


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class HistoryStore:
    """Writes a camera's minutes and reports; answers queries.

    Every minute already stored is added to, never replaced: a restart in
    the same minute, a clock that went back, or two parts of a minute written
    a second apart all add up. The open minute is handed to the writer at
    most ``FLUSH_S`` behind (a crash loses at most that). While the database
    is away (a PostgreSQL server down), what could not be written waits in
    memory (at most ``MAX_WAITING_MIN`` minutes, the oldest dropped first
    and counted) and is written, in order, when it is back. A SQLite file
    that is damaged or deleted while running is set aside and a new one
    started, said in the log and in :meth:`status`.

    Args:
        engine: the database (:func:`engine_for`).
        camera: the camera's id in the tables ("" for a single sensor).
        retention_days, max_mb: what is kept (max_mb: SQLite only).
    """

    def __init__(self, engine: sa.Engine, camera: str = "", retention_days: int = 400,
                 max_mb: int = 1024) -> None:
        self.engine = engine
        self.camera = camera
        self.retention_days = retention_days
        self.max_mb = max_mb
        self.path = (Path(engine.url.database) if engine.dialect.name == "sqlite"
                     and engine.url.database else None)
        self.notice = ""  # a store set aside or started anew: what the operator must know
        self.restarts = 0  # stores started anew while running (deleted or damaged)
        self._inode: int | None = None
        self._create()
        self._open: _Minute | None = None  # the open minute's part not handed over yet
        self._handed_at = time.monotonic()
        self._queue: queue.Queue = queue.Queue(maxsize=1000)
        self._writer: threading.Thread | None = None
        self._waiting = _Waiting()
        self._away_since: float | None = None  # the store cannot be written since
        self._retry_at = 0.0
        self._last_trim = 0.0
        self.problem = ""

    def _create(self) -> None:
        """The tables (and the column older versions lack)."""
        try:
            metadata.create_all(self.engine)
            columns = {c["name"] for c in sa.inspect(self.engine).get_columns(minutes.name)}
            if "samples" not in columns:  # written by an older version: every row a whole minute
                with self.engine.begin() as db:
                    db.exec_driver_sql(f"ALTER TABLE {minutes.name} ADD COLUMN samples INTEGER")
        except sa.exc.SQLAlchemyError as exc:
            raise HistoryError(f"history store {self.engine.url.render_as_string()}: "
                               f"{_first_line(exc)}") from None
        if self.path is not None:
            self._inode = self.path.stat().st_ino

    # writing ---------------------------------------------------------------------
    def record(self, ts: float, levels: dict[str, int], events: Iterable[str] = ()) -> None:
        """One frame: the people now per level series, and the events
        (crossings, flows) that happened at it."""
        minute = int(ts // 60)
        part = self._open
        if part is None or part.minute != minute:
            if part is not None:
                self._hand_over(part.rows(self.camera), [])
            part = self._open = _Minute(minute)
            self._handed_at = time.monotonic()
        for series, value in levels.items():
            part.add_level(series, float(value))
        for series in events:
            part.events[series] += 1
        if time.monotonic() - self._handed_at >= FLUSH_S:  # the open minute, a second behind
            self._hand_over(part.rows(self.camera), [])
            self._open = None

    def report(self, ts: float, feature: str, body: str) -> None:
        self._hand_over([], [{"camera": self.camera, "ts": ts, "feature": feature,
                              "body": body}])

    def _hand_over(self, minute_rows: list[dict], report_rows: list[dict]) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                            name="history")
            self._writer.start()
        try:
            self._queue.put_nowait((minute_rows, report_rows))
        except queue.Full:
            if self.problem != "writes are behind":
                log.error("history store: writes are behind; a minute was not kept")
            self.problem = "writes are behind"
            self._waiting.lost_minutes += len({row["minute"] for row in minute_rows})
            self._waiting.lost_reports += len(report_rows)

    def after_writes(self, job) -> None:
        """Run ``job()`` on the writer thread once what was handed over is
        written (a report of the day that just ended)."""
        self._hand_over([], [])
        self._queue.put(job)

    def _write_loop(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=RETRY_S if self._waiting else None)
            except queue.Empty:
                item = ([], [])
            jobs, stopping = [], False
            while True:  # all that is queued now, in one transaction
                if item is None:
                    stopping = True
                elif callable(item):
                    jobs.append(item)
                else:
                    self._waiting.add(*item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if self._waiting and (stopping or time.monotonic() >= self._retry_at):
                self._write_waiting()
            for job in jobs:
                try:
                    job()
                except Exception:  # a report job must not stop the writer
                    log.exception("history job")
            if stopping:
                return

    def _write_waiting(self) -> None:
        waiting = self._waiting
        try:
            self._check_file()
            self._insert(list(waiting.minutes.values()), waiting.reports)
        except sa.exc.SQLAlchemyError as exc:
            if self.path is not None and _damaged(exc):
                self._start_anew(f"{self.path.name} is damaged ({_first_line(exc)})")
                return self._write_waiting()
            return self._away(exc)
        held = len(waiting.by_minute)
        lost, lost_reports = waiting.lost_minutes, waiting.lost_reports
        waiting.clear()
        if self._away_since is not None:
            away = time.time() - self._away_since
            log.warning("history store: writing again after %.0f s away; %d minute(s) kept "
                        "meanwhile written%s", away, held,
                        f", {lost} minute(s) and {lost_reports} report(s) lost (more than "
                        f"{waiting.max_minutes} minutes waited)" if lost or lost_reports else "")
            self._away_since = None
        self.problem = ""
        if time.monotonic() - self._last_trim > 3600:
            self._last_trim = time.monotonic()
            try:
                self.trim()
            except sa.exc.SQLAlchemyError as exc:
                log.warning("history store: old data not trimmed (%s)", _first_line(exc))

    def _insert(self, minute_rows: list[dict], report_rows: list[dict]) -> None:
        with self.engine.begin() as db:
            if minute_rows:
                db.execute(_upsert(self.engine), minute_rows)
            if report_rows:
                db.execute(reports.insert(), report_rows)

    def _away(self, exc: Exception) -> None:
        """The store cannot be written: the rows wait, a retry in ``RETRY_S``."""
        self._retry_at = time.monotonic() + RETRY_S
        if self._away_since is None:
            self._away_since = time.time()
            log.error("history store: cannot write (%s); the minutes wait in memory (at most "
                      "%d) and are written when it is back", _first_line(exc),
                      self._waiting.max_minutes)
        self.problem = _first_line(exc)

    def _check_file(self) -> None:
        """A SQLite file deleted (or replaced) under the running sensor: a new
        one is started, or everything written from now on would go into a
        file nobody can open again."""
        if self.path is None:
            return
        try:
            inode = self.path.stat().st_ino
        except FileNotFoundError:
            inode = None
        if inode != self._inode:
            self._start_anew(f"{self.path.name} was deleted while the sensor ran")

    def _start_anew(self, why: str) -> None:
        assert self.path is not None
        self.engine.dispose()
        aside = set_aside_sqlite(self.path)
        kept = f"; the old one is kept as {aside.name}" if aside is not None else ""
        self.notice = (f"history store: {why}: a new one was started "
                       f"{time.strftime('%Y-%m-%d %H:%M')}{kept}")
        log.error("%s", self.notice)
        self.restarts += 1
        self.engine = sqlite_engine(self.path)
        self._create()

    def flush(self, timeout_s: float = 5.0) -> None:
        """Write the open minute and wait for the writer (at the stop)."""
        if self._open is not None:
            self._hand_over(self._open.rows(self.camera), [])
            self._open = None
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=timeout_s)
            self._writer = None
        if self._waiting:
            log.error("history store: %d minute(s) and %d report(s) could not be written "
                      "before the stop (%s): they are lost", len(self._waiting.by_minute),
                      len(self._waiting.reports), self.problem or "the store is slow")

    def close(self) -> None:
        self.flush()
        self.engine.dispose()

    def status(self) -> dict[str, Any]:
        """For ``/api/status`` and /metrics: writing or not, and what waits or was lost."""
        return {"writing": self._away_since is None and not self.problem,
                "problem": self.problem,
                "away_since": self._away_since,
                "waiting_minutes": len(self._waiting.by_minute),
                "lost_minutes": self._waiting.lost_minutes,
                "restarts": self.restarts,
                "notice": self.notice}

    def trim(self, now: float | None = None) -> int:
        """Drop what is older than the retention (and, in SQLite, the oldest
        days past ``max_mb``); rows dropped."""
        cutoff = (now or time.time()) - self.retention_days * 86400
        dropped = 0
        with self.engine.begin() as db:
            dropped += db.execute(minutes.delete().where(
                minutes.c.camera == self.camera, minutes.c.minute < cutoff // 60)).rowcount
            dropped += db.execute(reports.delete().where(
                reports.c.camera == self.camera, reports.c.ts < cutoff)).rowcount
        while self.engine.dialect.name == "sqlite" and self._size_mb() > self.max_mb:
            with self.engine.begin() as db:
                first = db.execute(sa.select(sa.func.min(minutes.c.minute))).scalar()
                if first is None:
                    break
                dropped += db.execute(minutes.delete().where(
                    minutes.c.minute < first + 1440)).rowcount
                dropped += db.execute(reports.delete().where(
                    reports.c.ts < (first + 1440) * 60)).rowcount
            with self.engine.connect() as db:
                db.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                db.exec_driver_sql("VACUUM")
        return dropped

    def _size_mb(self) -> float:
        with self.engine.connect() as db:
            pages = db.exec_driver_sql("PRAGMA page_count").scalar() or 0
            size = db.exec_driver_sql("PRAGMA page_size").scalar() or 0
        return pages * size / 2**20

    # reading ---------------------------------------------------------------------
    def _read(self, query) -> list:
        """Rows of a query; the store away is :class:`HistoryUnavailable` (503)."""
        try:
            with self.engine.connect() as db:
                return list(db.execute(query))
        except sa.exc.SQLAlchemyError as exc:
            raise HistoryUnavailable(
                f"the history store cannot be read now ({_first_line(exc)}); the minutes "
                "wait and are written when it is back: try again later") from None

    def series_names(self, cameras: list[str] | None = None) -> list[str]:
        query = sa.select(minutes.c.series).distinct()
        if cameras is not None:
            query = query.where(minutes.c.camera.in_(cameras))
        return sorted(r[0] for r in self._read(query))

    def query(self, series: str, start: float, end: float, bucket: str, clock: DeviceClock,
              cameras: list[str] | None = None) -> list[dict[str, Any]]:
        """Buckets of ``series`` from ``start`` to ``end`` (unix seconds) for
        ``cameras`` (default this store's camera; summed over several)."""
        if bucket not in BUCKETS:
            raise HistoryError(f"bucket: one of {', '.join(BUCKETS)}, got {bucket!r}")
        if bucket == "minute" and end - start > MAX_MINUTE_DAYS * 86400:
            raise HistoryError(f"minute buckets: at most {MAX_MINUTE_DAYS} days in one query "
                               "(ask for hours or days over a longer period)")
        cameras = [self.camera] if cameras is None else cameras
        slots = self._slots(series, start, end, cameras, 1 if bucket == "minute" else SLOT_MIN)
        return _bucketed(slots, series, bucket, clock)

    def _slots(self, series: str, start: float, end: float, cameras: list[str],
               size: int) -> list[tuple[int, float, int, float, int]]:
        """(slot minute, sum of minute means, minutes, peak, total) per slot,
        the cameras' minutes added up first (a site's people = the sum)."""
        per_minute = (
            sa.select(minutes.c.minute.label("minute"),
                      sa.func.sum(minutes.c.mean).label("mean"),
                      sa.func.sum(minutes.c.peak).label("peak"),
                      sa.func.sum(minutes.c.total).label("total"))
            .where(minutes.c.series == series, minutes.c.camera.in_(cameras),
                   minutes.c.minute >= math.floor(start / 60), minutes.c.minute < end / 60)
            .group_by(minutes.c.minute)
            .subquery()
        )
        slot = per_minute.c.minute // size  # floor division in both dialects
        query = (
            sa.select(slot.label("slot"), sa.func.sum(per_minute.c.mean),
                      sa.func.count(per_minute.c.mean), sa.func.max(per_minute.c.peak),
                      sa.func.sum(per_minute.c.total))
            .group_by(slot).order_by(slot)
        )
        return [(int(s) * size, float(m or 0), int(n or 0), float(p or 0), int(t or 0))
                for s, m, n, p, t in self._read(query)]

    def reports_between(self, start: float, end: float,
                        feature: str | None = None) -> list[tuple[float, str, str]]:
        query = sa.select(reports.c.ts, reports.c.feature, reports.c.body).where(
            reports.c.camera == self.camera, reports.c.ts >= start, reports.c.ts < end)
        if feature:
            query = query.where(reports.c.feature == feature)
        return [(r[0], r[1], r[2]) for r in self._read(query.order_by(reports.c.ts))]


def set_aside_sqlite(path: Path) -> Path | None:
    """A damaged or replaced SQLite file (with its -wal and -shm) moved out
    of the way as ``<name>.corrupt-<time>``; None if it is gone already."""
    aside = None
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if each.exists():
            moved = set_aside(each)
            aside = aside or moved
    return aside


def _upsert(engine: sa.Engine):
    """Insert a part of a minute, added to what the store holds of it (a
    restart in the same minute, a clock that went back, the open minute
    written a second at a time): means weighted by their samples, the higher
    peak, totals summed. Rows of older versions (no samples) weigh as much
    as the part added."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
        higher = sa.func.greatest
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        higher = sa.func.max  # type: ignore[assignment]  # SQLite's max() of two values
    statement = insert(minutes)
    new = statement.excluded
    old_n = sa.func.coalesce(minutes.c.samples, new.samples)
    return statement.on_conflict_do_update(
        index_elements=["camera", "series", "minute"],
        set_={"mean": (minutes.c.mean * old_n + new.mean * new.samples)
              / sa.func.nullif(old_n + new.samples, 0),
              "peak": higher(sa.func.coalesce(minutes.c.peak, new.peak), new.peak),
              "total": minutes.c.total + new.total,
              "samples": old_n + new.samples})


def bucket_start(moment: datetime, bucket: str) -> datetime:
    """The local start of ``moment``'s bucket."""
    if bucket == "minute":
        return moment.replace(second=0, microsecond=0)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "day":
        return day
    return day - timedelta(days=day.weekday())  # weeks start on Monday


def _bucketed(slots, series: str, bucket: str, clock: DeviceClock) -> list[dict[str, Any]]:
    grouped: dict[datetime, list[float]] = {}
    for minute, mean_sum, count, peak, total in slots:
        key = bucket_start(clock.local(minute * 60.0), bucket)
        acc = grouped.setdefault(key, [0.0, 0, 0.0, 0])
        acc[0] += mean_sum
        acc[1] += count
        acc[2] = max(acc[2], peak)
        acc[3] += total
    out = []
    for key in sorted(grouped):
        mean_sum, count, peak, total = grouped[key]
        row: dict[str, Any] = {"start": key.isoformat(), "series": series}
        if is_event(series):
            row["total"] = int(total)
        else:
            row |= {"mean": round(mean_sum / count, 3) if count else 0.0, "peak": peak,
                    "minutes": int(count)}
        out.append(row)
    return out


class HistorySink:
    """A pipeline sink: every report into the store, at its frame's time."""

    def __init__(self, store: HistoryStore, now) -> None:
        self.store, self.now = store, now

    def send(self, report) -> None:
        self.store.report(self.now(), report.feature,
                          json.dumps(report.body, ensure_ascii=False))

    def close(self) -> None:
        """The store outlives pipelines; its owner closes it."""


def open_history(config, camera: str = "") -> HistoryStore | None:
    """The configured store, or None (off, or it cannot be opened: said in
    the log, and the sensor counts on without it)."""
    settings = config.history
    if not settings.enabled:
        return None
    try:
        return open_store(settings.url.get_secret_value(), config.state_dir, camera,
                          settings.retention_days, settings.max_mb)
    except OccusenseError as exc:
        log.error("%s; the sensor counts on without a history", exc)
        return None


def open_store(url: str, state_dir: str | Path, camera: str = "", retention_days: int = 400,
               max_mb: int = 1024) -> HistoryStore:
    """The store at ``url`` (empty: SQLite in ``state_dir``); a SQLite file
    that is damaged is set aside and a new one started (said in the log and
    in the store's ``notice``)."""
    engine = engine_for(url, state_dir)
    try:
        return HistoryStore(engine, camera, retention_days, max_mb)
    except HistoryError as exc:
        if url or not _damaged(exc):
            raise
        engine.dispose()
        path = Path(state_dir) / HISTORY_DB
        aside = set_aside_sqlite(path)
        store = HistoryStore(engine_for(url, state_dir), camera, retention_days, max_mb)
        kept = f"; the old one is kept as {aside.name}" if aside else ""
        store.notice = (f"history store: {path.name} was damaged ({_first_line(exc)}): a new "
                        f"one was started{kept}")
        store.restarts = 1
        log.error("%s", store.notice)
        return store


def parse_when(text: str | None, clock: DeviceClock, default: float) -> float:
    """``from`` / ``to`` of a query: unix seconds, an ISO date or date and
    time (without an offset: the device's time zone), or now / default."""
    if not text:
        return default
    text = text.strip()
    try:
        when = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=clock.zone)
            when = moment.timestamp()
        except (ValueError, OverflowError):
            raise HistoryError(f"{text!r}: give unix seconds or an ISO date/time such as "
                               "2026-12-01 or 2026-12-01T08:00") from None
    if not EARLIEST <= when <= LATEST:  # nan, inf, 1e308 and the years no calendar holds
        raise HistoryError(f"{text!r}: a time from 1970 to 2999, as unix seconds or an ISO "
                           "date/time such as 2026-12-01T08:00")
    return when


class QueryGate:
    """Bounds what history queries cost a running sensor: at most
    ``QUERY_SLOTS`` run at once, on threads of their own (not the web
    server's, so /metrics and the live pages never wait behind them), each
    slot resting as long as its query ran before the next (a query is mostly
    Python: back to back they would take a whole core), and at most
    ``QUERY_LINE`` wait; one more is :class:`HistoryUnavailable` (the API's
    503 with Retry-After). Measured on 2 cores (bench/history_load_bench.py,
    90-day hourly queries back to back, the sample counted unpaced at 12.6
    frames/s): 8 clients took it to 4.3 frames/s and /metrics to 120 ms
    (984 ms at worst) with every query at once; with the gate 9.5 frames/s
    and 5 ms (26 ms)."""

    def __init__(self, slots: int = QUERY_SLOTS, line: int = QUERY_LINE) -> None:
        self._slots = slots
        self._places = threading.BoundedSemaphore(slots + line)
        self._pool: Any = None

    async def run(self, job, *args):
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        if not self._places.acquire(blocking=False):
            raise HistoryUnavailable("too many history queries at once: try again in a few "
                                     "seconds")
        try:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._slots, thread_name_prefix="history-query")
            answer, took = await asyncio.get_running_loop().run_in_executor(
                self._pool, _timed, job, args)
            # the slot rests as long as the query ran: back-to-back queries take at
            # most half a core from the counting, and nobody waits for the rest
            self._pool.submit(time.sleep, min(took * QUERY_REST, 5.0))
            return answer
        finally:
            self._places.release()


QUERIES = QueryGate()


def _timed(job, args: tuple) -> tuple[Any, float]:
    began = time.perf_counter()
    answer = job(*args)
    return answer, time.perf_counter() - began


def query_period(since: str | None, until: str | None, clock: DeviceClock) -> tuple[float, float]:
    """A query's ``from`` and ``to`` (default: the last 24 hours), ``from``
    before ``to``."""
    end = parse_when(until, clock, time.time())
    start = parse_when(since, clock, end - 86400)
    if end <= start:
        raise HistoryError("from must be before to")
    return start, end


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Buckets as CSV (start, series, then mean, peak, minutes or total)."""
    return csv_text(rows, ["start", "series", "mean", "peak", "minutes", "total"])


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (a region named
    ``=cmd|' /C calc'!A0``) quoted with a leading apostrophe (OWASP's rule);
    numbers and other text as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows as CSV with a header, every text cell :func:`spreadsheet_safe`."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def sum_buckets(answers: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Several cameras' buckets of one series, added up bucket by bucket."""
    merged: dict[str, dict[str, Any]] = {}
    for rows in answers:
        for row in rows:
            into = merged.setdefault(row["start"], {k: v for k, v in row.items()
                                                    if k in ("start", "series")})
            for key in ("mean", "peak", "total"):
                if key in row:
                    into[key] = round(into.get(key, 0) + row[key], 3)
            if "minutes" in row:
                into["minutes"] = max(into.get("minutes", 0), row["minutes"])
    return [merged[k] for k in sorted(merged)]
