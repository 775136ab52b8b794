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

log = logging.getLogger(__name__)

HISTORY_DB = "history.sqlite"
BUCKETS = ("minute", "hour", "day", "week")
SLOT_MIN = 15  # the database sums minutes into slots of this many before local bucketing
EVENT_PREFIXES = ("line:", "flow:")

metadata = sa.MetaData()
minutes = sa.Table(
    "occusense_minutes", metadata,
    sa.Column("camera", sa.String(64), primary_key=True),
    sa.Column("series", sa.String(160), primary_key=True),
    sa.Column("minute", sa.BigInteger, primary_key=True),  # unix time // 60
    sa.Column("mean", sa.Float),
    sa.Column("peak", sa.Float),
    sa.Column("total", sa.Integer),
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


def is_event(series: str) -> bool:
    return series.startswith(EVENT_PREFIXES)


@dataclass
class _Minute:
    """One minute's samples of every series."""

    minute: int
    levels: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    events: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def rows(self, camera: str) -> list[dict[str, Any]]:
        out = [{"camera": camera, "series": s, "minute": self.minute,
                "mean": sum(v) / len(v), "peak": max(v), "total": None}
               for s, v in self.levels.items() if v]
        out += [{"camera": camera, "series": s, "minute": self.minute, "mean": None,
                 "peak": None, "total": n} for s, n in self.events.items()]
        return out


def engine_for(url: str, state_dir: str | Path) -> sa.Engine:
    """The database of ``history.url`` (empty: SQLite in the state directory)."""
    if not url:
        path = Path(state_dir) / HISTORY_DB
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(f"sqlite:///{path}")

        @sa.event.listens_for(engine, "connect")
        def _wal(connection, _record) -> None:  # readers never wait for the writer
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigError(f"history.url: {exc}") from None


class HistoryStore:
    """Writes a camera's minutes and reports; answers queries.

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
        try:
            metadata.create_all(engine)
        except sa.exc.SQLAlchemyError as exc:
            raise HistoryError(f"history store {engine.url.render_as_string()}: "
                               f"{str(exc).splitlines()[0]}") from None
        self._current: _Minute | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=1000)
        self._writer: threading.Thread | None = None
        self._last_trim = 0.0
        self.problem = ""

    # writing ---------------------------------------------------------------------
    def record(self, ts: float, levels: dict[str, int], events: Iterable[str] = ()) -> None:
        """One frame: the people now per level series, and the events
        (crossings, flows) that happened at it."""
        minute = int(ts // 60)
        current = self._current
        if current is None or current.minute != minute:
            if current is not None:
                self._hand_over(current.rows(self.camera), [])
            current = self._current = _Minute(minute)
        for series, value in levels.items():
            current.levels[series].append(float(value))
        for series in events:
            current.events[series] += 1

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
            if not self.problem:
                log.error("history store: writes are behind; a minute was not kept")
            self.problem = "writes are behind"

    def after_writes(self, job) -> None:
        """Run ``job()`` on the writer thread once what was handed over is
        written (a report of the day that just ended)."""
        self._hand_over([], [])
        self._queue.put(job)

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if callable(item):
                try:
                    item()
                except Exception:  # a report job must not stop the writer
                    log.exception("history job")
                continue
            self._write(*item)

    def _write(self, minute_rows: list[dict], report_rows: list[dict]) -> None:
        try:
            with self.engine.begin() as db:
                if minute_rows:
                    db.execute(_upsert(self.engine), minute_rows)
                if report_rows:
                    db.execute(reports.insert(), report_rows)
            if self.problem:
                log.info("history store: writing again")
            self.problem = ""
            if time.monotonic() - self._last_trim > 3600:
                self._last_trim = time.monotonic()
                self.trim()
        except sa.exc.SQLAlchemyError as exc:
            if not self.problem:
                log.error("history store: cannot write (%s); the counts go on",
                          str(exc).splitlines()[0])
            self.problem = str(exc).splitlines()[0]

    def flush(self, timeout_s: float = 5.0) -> None:
        """Write the open minute and wait for the writer (at the stop)."""
        if self._current is not None:
            self._hand_over(self._current.rows(self.camera), [])
            self._current = None
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=timeout_s)
            self._writer = None

    def close(self) -> None:
        self.flush()
        self.engine.dispose()

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
    def series_names(self, cameras: list[str] | None = None) -> list[str]:
        with self.engine.connect() as db:
            query = sa.select(minutes.c.series).distinct()
            if cameras is not None:
                query = query.where(minutes.c.camera.in_(cameras))
            return sorted(r[0] for r in db.execute(query))

    def query(self, series: str, start: float, end: float, bucket: str, clock: DeviceClock,
              cameras: list[str] | None = None) -> list[dict[str, Any]]:
        """Buckets of ``series`` from ``start`` to ``end`` (unix seconds) for
        ``cameras`` (default this store's camera; summed over several)."""
        if bucket not in BUCKETS:
            raise HistoryError(f"bucket: one of {', '.join(BUCKETS)}, got {bucket!r}")
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
        with self.engine.connect() as db:
            return [(int(s) * size, float(m or 0), int(n or 0), float(p or 0), int(t or 0))
                    for s, m, n, p, t in db.execute(query)]

    def reports_between(self, start: float, end: float,
                        feature: str | None = None) -> list[tuple[float, str, str]]:
        query = sa.select(reports.c.ts, reports.c.feature, reports.c.body).where(
            reports.c.camera == self.camera, reports.c.ts >= start, reports.c.ts < end)
        if feature:
            query = query.where(reports.c.feature == feature)
        with self.engine.connect() as db:
            return [(r[0], r[1], r[2]) for r in db.execute(query.order_by(reports.c.ts))]


def _upsert(engine: sa.Engine):
    """Insert a minute, replacing one written before (a restart in the same minute)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = insert(minutes)
    return statement.on_conflict_do_update(
        index_elements=["camera", "series", "minute"],
        set_={"mean": statement.excluded.mean, "peak": statement.excluded.peak,
              "total": statement.excluded.total})


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
        engine = engine_for(settings.url.get_secret_value(), config.state_dir)
        return HistoryStore(engine, camera, settings.retention_days, settings.max_mb)
    except OccusenseError as exc:
        log.error("%s; the sensor counts on without a history", exc)
        return None


def parse_when(text: str | None, clock: DeviceClock, default: float) -> float:
    """``from`` / ``to`` of a query: unix seconds, an ISO date or date and
    time (without an offset: the device's time zone), or now / default."""
    if not text:
        return default
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HistoryError(f"{text!r}: give unix seconds or an ISO date/time such as "
                           "2026-12-01 or 2026-12-01T08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.zone)
    return moment.timestamp()


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
    import csv
    import io

    out = io.StringIO()
    columns = ["start", "series", "mean", "peak", "minutes", "total"]
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
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
