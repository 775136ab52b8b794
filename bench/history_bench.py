"""The history store over a camera-year (issue 26): a year of per-minute data
for 16 regions, the total and a line (19 series), written and queried, on
SQLite and (with --postgres URL) on PostgreSQL.

    .venv/bin/python bench/history_bench.py [--days 365] [--postgres postgresql://...]

Prints: write cost per minute of counting (the one transaction a minute the
sensor makes) and per frame-second, the database size per camera-year, and
query times for a month and a year in hour and day buckets.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from occusense.clock import DeviceClock
from occusense.history import HistoryStore, _Minute, engine_for, metadata

REGIONS = 16


def fill(store: HistoryStore, start: float, days: int) -> tuple[float, int]:
    """Write ``days`` of minutes, as the sensor would; seconds spent, rows."""
    rng = np.random.default_rng(1)
    rows, spent = 0, 0.0
    batch: list[dict] = []
    for m in range(days * 1440):
        minute = _Minute(int(start // 60) + m)
        for region in range(REGIONS):
            minute.add_level(f"region:room {region + 1}", float(rng.integers(0, 6)))
        minute.add_level("people", float(rng.integers(0, 40)))
        minute.events["line:in"] = int(rng.integers(0, 4))
        minute.events["line:out"] = int(rng.integers(0, 4))
        batch += minute.rows(store.camera)
        if len(batch) >= 19 * 1440:  # a day at a time (the sensor: a minute at a time)
            began = time.perf_counter()
            store._insert(batch, [])
            spent += time.perf_counter() - began
            rows += len(batch)
            batch = []
    if batch:
        store._insert(batch, [])
        rows += len(batch)
    return spent, rows


def one_minute(store: HistoryStore, start: float, repeats: int = 200) -> float:
    """Seconds of one minute's transaction (19 rows), as the sensor writes it."""
    began = time.perf_counter()
    for n in range(repeats):
        minute = _Minute(int(start // 60) + 10_000_000 + n)
        for region in range(REGIONS):
            minute.add_level(f"region:room {region + 1}", 1.0)
        minute.add_level("people", 3.0)
        minute.events["line:in"] = 1
        minute.events["line:out"] = 1
        store._insert(minute.rows(store.camera), [])
    return (time.perf_counter() - began) / repeats


def queries(store: HistoryStore, start: float, days: int) -> list[tuple[str, float]]:
    clock = DeviceClock("Europe/Berlin")
    end = start + days * 86400
    out = []
    for label, since, bucket, series in (
        ("month, hour buckets, people", end - 30 * 86400, "hour", "people"),
        ("month, day buckets, a region", end - 30 * 86400, "day", "region:room 3"),
        ("year, day buckets, people", start, "day", "people"),
        ("year, week buckets, line in", start, "week", "line:in"),
        ("year, hour buckets, people", start, "hour", "people"),
    ):
        began = time.perf_counter()
        rows = store.query(series, since, end, bucket, clock)
        out.append((f"{label} ({len(rows)} buckets)", time.perf_counter() - began))
    return out


def run(url: str, folder: Path, days: int) -> None:
    engine = engine_for(url, folder)
    metadata.drop_all(engine)
    store = HistoryStore(engine, "bench", retention_days=3650, max_mb=10**6)
    start = 1_735_689_600.0  # 2025-01-01
    spent, rows = fill(store, start, days)
    minute_s = one_minute(store, start)
    name = engine.dialect.name
    print(f"## {name}: {days} days, {rows:,} rows (19 series a minute)")
    print(f"bulk write: {spent:.1f} s ({rows / max(spent, 1e-9):,.0f} rows/s)")
    print(f"one minute's transaction: {minute_s * 1000:.2f} ms "
          f"= {minute_s / 60 * 1e6:.0f} us per second of counting")
    if name == "sqlite":
        size = sum(p.stat().st_size for p in folder.glob("history.sqlite*"))
    else:
        with engine.connect() as db:
            size = db.exec_driver_sql(
                "SELECT pg_total_relation_size('occusense_minutes')").scalar() or 0
    print(f"size: {size / 2**20:.0f} MB ({size / 2**20 * 365 / days:.0f} MB per camera-year)")
    for label, seconds in queries(store, start, days):
        print(f"query {label}: {seconds * 1000:.0f} ms")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL to measure too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run("", Path(folder), args.days)
    if args.postgres:
        run(args.postgres, Path(tempfile.mkdtemp()), args.days)


if __name__ == "__main__":
    main()
