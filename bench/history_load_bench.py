"""What history queries cost a counting sensor (issue 34, item 8): the
sample counted unpaced (replayed for ever) with its web GUI, its history
holding 90 days of minutes (19 series), while 0, 2 or 8 clients ask for
a 90-day hourly series back to back; a second client scrapes /metrics
once a second.

    .venv/bin/python bench/history_load_bench.py [--days 90] [--seconds 20] [--ungated]

``--ungated`` lets every query run at once (as before the query gate) to
compare. Prints, per number of clients: frames/s counted, queries answered
(and refused with 503), and /metrics' answer time (median / max).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.history_bench import fill
from occusense.config import load_config
from occusense.history import QUERIES, HistoryStore, engine_for
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.app import create_app
from occusense.web.auth import hash_secret
from occusense.web.server import WebServer
from occusense.web.state import SensorState

REPO = Path(__file__).resolve().parents[1]
SAMPLE = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def clients_querying(base: str, auth: dict, count: int, stop: threading.Event,
                     since: float, tally: dict) -> list[threading.Thread]:
    def ask() -> None:
        with httpx.Client(timeout=120) as client:
            while not stop.is_set():
                answer = client.get(f"{base}/api/history", headers=auth, params={
                    "series": "people", "from": f"{since:.0f}", "bucket": "hour"})
                key = "answered" if answer.status_code == 200 else str(answer.status_code)
                tally[key] = tally.get(key, 0) + 1
                if answer.status_code == 503:
                    time.sleep(float(answer.headers.get("retry-after", "1")))

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--ungated", action="store_true")
    args = parser.parse_args()
    if args.ungated:  # every query at once, as before the gate
        QUERIES._slots = 16
        QUERIES._places = threading.BoundedSemaphore(116)
    folder = Path(tempfile.mkdtemp(prefix="occusense-history-load-"))
    now = time.time()
    since = now - args.days * 86400
    store = HistoryStore(engine_for("", folder), "", retention_days=3650, max_mb=10**6)
    fill(store, since, args.days)
    store.close()
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(folder)
    config.output.jsonl_path = ""
    config.history.retention_days = 3650
    config.history.max_mb = 10**6
    config.users.activated = True
    config.users.password_hash = hash_secret("bench-password-1")
    state = SensorState(config)
    runner = SensorRunner(state, open_source(SAMPLE, now, False, loop=True), now, [])
    counting = threading.Thread(target=runner.run, daemon=True)
    counting.start()
    web = WebServer(create_app(state), "127.0.0.1", 0)
    base = web.url.rstrip("/")
    token = httpx.post(f"{base}/api/token", data={"password": "bench-password-1"},
                       timeout=60).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    time.sleep(8)  # the detector warm
    print(f"gate: {'off (every query at once)' if args.ungated else 'on'}; "
          f"{args.days} days of minutes; {args.seconds:.0f} s a step")
    print("| clients querying | frames/s | queries answered | refused (503) "
          "| /metrics median / max (ms) |")
    print("|---|---|---|---|---|")
    for count in (0, 2, 8):
        stop, tally = threading.Event(), {}
        threads = clients_querying(base, auth, count, stop, since, tally)
        time.sleep(2)
        frames, began = runner.frames, time.monotonic()
        waits = []
        with httpx.Client(timeout=120) as scraper:
            while time.monotonic() - began < args.seconds:
                asked = time.perf_counter()
                scraper.get(f"{base}/metrics", headers=auth)
                waits.append((time.perf_counter() - asked) * 1000)
                time.sleep(max(0.0, 1 - (time.perf_counter() - asked)))
        rate = (runner.frames - frames) / (time.monotonic() - began)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        print(f"| {count} | {rate:.1f} | {tally.get('answered', 0)} | {tally.get('503', 0)} "
              f"| {statistics.median(waits):.0f} / {max(waits):.0f} |")
    runner.stop()
    counting.join(timeout=30)
    web.stop()


if __name__ == "__main__":
    main()
