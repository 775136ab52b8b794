"""Issue 34, items 1-3 and 5: the history never loses a minute. A restart in
the minute the last run ended, a clock that went back, kill -9, SIGTERM (and
SIGINT inherited ignored, as some CI runners and shells start a process), a
PostgreSQL server stopped and started, a SQLite file damaged or deleted: the
history adds up to what the counters counted."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from occusense.clock import DeviceClock
from occusense.history import (
    HISTORY_DB,
    HistoryStore,
    engine_for,
    open_store,
)
from tests.conftest import REPO
from tests.history.conftest import _as_postgres
from tests.transports.conftest import free_port

UTC = DeviceClock("UTC")
T0 = 1_764_633_600.0  # 2025-12-02 00:00 UTC, a minute's start


def sensor_config(tmp_path: Path) -> Path:
    """The sample's line (examples/vtest.yaml), its own state folder, UTC."""
    data = yaml.safe_load((REPO / "examples" / "vtest.yaml").read_text())
    data["state_dir"] = str(tmp_path / "state")
    data["output"] = {"jsonl_path": ""}
    data["time"] = {"timezone": "UTC"}
    data["web"] = {"enabled": False}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def command(config: Path, sample: Path, start: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "occusense.cli", "run", "--config", str(config), "--source",
            str(sample), "--quiet", "--start-time", start, *extra]


def counted(state: Path) -> tuple[int, int]:
    """The line's cumulative in/out the counters saved."""
    doc = json.loads((state / "counts.json").read_text())
    return tuple(doc["line"]["cumulative"])  # type: ignore[return-value]


def in_history(state: Path) -> tuple[int, int]:
    """The crossings the history holds, all minutes added up."""
    with sqlite3.connect(state / HISTORY_DB) as db:
        rows = dict(db.execute("SELECT series, SUM(total) FROM occusense_minutes "
                               "WHERE series IN ('line:in', 'line:out') GROUP BY series"))
    return int(rows.get("line:in") or 0), int(rows.get("line:out") or 0)


def test_a_restart_in_the_same_minute_adds_to_it(tmp_path, sample_video):
    config = sensor_config(tmp_path)
    for start in ("2026-12-07T11:00:01+00:00", "2026-12-07T11:00:35+00:00"):
        run = subprocess.run(command(config, sample_video, start, "--max-frames", "300"),
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
    state = tmp_path / "state"
    counts = counted(state)
    assert sum(counts) >= 4, "the sample crosses the line several times in 40 s"
    assert in_history(state) == counts


def test_the_open_minute_survives_kill_9(tmp_path, sample_video):
    config = sensor_config(tmp_path)
    state = tmp_path / "state"
    sensor = subprocess.Popen(command(config, sample_video, "2026-12-07T11:00:00+00:00",
                                      "--realtime"), cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not ((state / "counts.json").exists() and sum(counted(state)) >= 3):
            assert time.monotonic() < deadline and sensor.poll() is None
            time.sleep(0.2)
        time.sleep(1.5)  # what was counted reaches both files within a second
        sensor.send_signal(signal.SIGKILL)
        sensor.wait(timeout=30)
    finally:
        sensor.kill()
    counts, kept = counted(state), in_history(state)
    assert sum(kept) >= 3  # the open minute (the only one) was kept
    assert abs(kept[0] - counts[0]) <= 1 and abs(kept[1] - counts[1]) <= 1


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_sensor_cleanly_and_quickly(tmp_path, sample_video, stop_signal):
    config = sensor_config(tmp_path)
    state = tmp_path / "state"
    # started with SIGINT ignored, as a background job of a non-interactive shell is
    sensor = subprocess.Popen(
        command(config, sample_video, "2026-12-07T11:00:00+00:00", "--realtime", "--loop"),
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 120
        while not ((state / "counts.json").exists() and sum(counted(state)) >= 2):
            assert time.monotonic() < deadline and sensor.poll() is None
            time.sleep(0.2)
        sensor.send_signal(stop_signal)
        sensor.send_signal(stop_signal)  # as GNU timeout does: the child, then its group
        asked = time.monotonic()
        _, stderr = sensor.communicate(timeout=20)
        took = time.monotonic() - asked
    finally:
        sensor.kill()
    assert sensor.returncode == 0, stderr
    assert took < 10, f"the stop took {took:.1f} s"
    name = signal.Signals(stop_signal).name
    assert f"{name}: stopping" in stderr and f"(on {name})" in stderr
    assert "done:" in stderr and "Traceback" not in stderr
    assert in_history(state) == counted(state)  # the open minute written at the stop


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_a_minute_stored_is_added_to_whatever_the_clock_did(store_url, tmp_path):
    def run(start: float, crossings: int) -> None:
        store = HistoryStore(engine_for(store_url, tmp_path), "door")
        for i in range(crossings):
            store.record(start + i, {"people": 2 + i % 2}, ["line:in"])
        store.close()

    run(T0 + 5, 4)
    run(T0 + 40, 3)  # a restart in the same minute
    run(T0 + 1, 2)  # a clock that went back 40 s
    store = HistoryStore(engine_for(store_url, tmp_path), "door")
    minute = store.query("line:in", T0, T0 + 60, "minute", UTC)
    people = store.query("people", T0, T0 + 60, "minute", UTC)
    store.close()
    assert minute == [{"start": "2025-12-02T00:00:00+00:00", "series": "line:in", "total": 9}]
    # 9 frames: 2,3,2,3 + 2,3,2 + 2,3 = 22 people-samples
    assert people[0]["mean"] == round(22 / 9, 3) and people[0]["peak"] == 3


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, object, object]]:
    """A PostgreSQL server of this test's own (it is stopped and started):
    its URL, and functions that stop and start it."""
    binaries = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="occusense-pg-down-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(_as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", "occusense",
                                 "--auth=trust", "--no-sync"]), check=True, capture_output=True)
    ctl = [str(binaries / "pg_ctl"), "-D", str(data), "-w", "-t", "60"]

    def start() -> None:
        subprocess.run(_as_postgres([*ctl, "-o", f"-p {port} -h 127.0.0.1 -k {folder} "
                                     "-c fsync=off", "-l", str(folder / "log"), "start"]),
                       check=True, capture_output=True)

    def stop() -> None:
        subprocess.run(_as_postgres([*ctl, "-m", "fast", "stop"]), check=True,
                       capture_output=True)

    start()
    try:
        yield f"postgresql://occusense@127.0.0.1:{port}/postgres", stop, start
    finally:
        subprocess.run(_as_postgres([*ctl, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_minutes_wait_for_a_postgresql_server_that_is_down(own_postgres, tmp_path, caplog):
    from occusense.config import DeviceConfig
    from occusense.web.app import create_app
    from occusense.web.server import WebServer
    from occusense.web.state import SensorState
    from tests.web.test_api import bearer

    url, stop, start = own_postgres
    store = HistoryStore(engine_for(url, tmp_path), "hall")
    state = SensorState(DeviceConfig(state_dir=str(tmp_path / "state")))
    state.history_store = store
    web = WebServer(create_app(state), "127.0.0.1", 0)
    base = web.url.rstrip("/")
    try:
        with httpx.Client(timeout=30) as client:
            auth = bearer(client, state, base)

            def minutes(first: int, last: int) -> None:
                for minute in range(first, last):
                    store.record(T0 + minute * 60 + 1, {"people": 1}, ["line:in"])
                    store.record(T0 + minute * 60 + 2, {"people": 3})
                store.record(T0 + last * 60, {"people": 0})  # closes the last minute

            minutes(0, 2)
            wait(lambda: not store._queue.qsize() and not store._waiting, "the first minutes")
            stop()
            minutes(2, 5)  # three minutes while the server is down
            wait(lambda: store.status()["waiting_minutes"] >= 3, "the minutes to wait")
            status = client.get(f"{base}/api/status", headers=auth).json()["history"]
            assert status["writing"] is False and status["away_since"]
            answer = client.get(f"{base}/api/history", headers=auth,
                                params={"series": "line:in", "from": T0, "to": T0 + 600})
            assert answer.status_code == 503 and "try again" in answer.json()["detail"]
            metrics = client.get(f"{base}/metrics", headers=auth).text
            assert "occusense_history_writing 0.0" in metrics
            assert "occusense_history_waiting_minutes 3.0" in metrics
            start()
            wait(lambda: store.status()["writing"], "the writes after the outage", 60)
            answer = client.get(f"{base}/api/history", headers=auth, params={
                "series": "line:in", "from": T0, "to": T0 + 600, "bucket": "minute"})
            assert answer.status_code == 200
            assert [b["total"] for b in answer.json()["buckets"]] == [1, 1, 1, 1, 1]
    finally:
        web.stop()
        store.close()
    assert "cannot write" in caplog.text and "3 minute(s) kept meanwhile written" in caplog.text


def test_past_its_bound_the_oldest_minutes_go_and_are_counted(own_postgres, tmp_path, caplog):
    url, stop, start = own_postgres
    store = HistoryStore(engine_for(url, tmp_path), "hall")
    store._waiting.max_minutes = 2
    stop()
    for minute in range(5):
        store.record(T0 + minute * 60, {"people": 1}, ["line:out"])
    store.record(T0 + 300, {"people": 0})
    wait(lambda: store.status()["lost_minutes"] >= 3, "the oldest minutes to go")
    start()
    wait(lambda: store.status()["writing"], "the writes after the outage", 60)
    kept = store.query("line:out", T0, T0 + 600, "minute", UTC)
    store.close()
    assert [b["start"][11:16] for b in kept] == ["00:03", "00:04"]  # the newest, in order
    assert "3 minute(s) and 0 report(s) lost" in caplog.text


def test_a_damaged_sqlite_history_is_set_aside_and_a_new_one_started(tmp_path, caplog):
    (tmp_path / HISTORY_DB).write_bytes(b"this is not a database" * 100)
    store = open_store("", tmp_path)
    store.record(T0, {"people": 1}, ["line:in"])
    store.close()
    aside = list(tmp_path.glob(f"{HISTORY_DB}.corrupt-*"))
    assert len(aside) == 1 and b"not a database" in aside[0].read_bytes()
    assert "damaged" in store.notice and store.status()["restarts"] == 1
    assert len([r for r in caplog.records if "damaged" in r.getMessage()]) == 1  # said once
    again = open_store("", tmp_path)
    assert again.query("line:in", T0, T0 + 60, "minute", UTC)[0]["total"] == 1
    again.close()


def test_a_sqlite_history_deleted_while_running_starts_anew(tmp_path, caplog):
    store = open_store("", tmp_path)
    store.record(T0, {"people": 1}, ["line:in"])
    store.record(T0 + 60, {"people": 1})  # the first minute handed over
    wait(lambda: not store._queue.qsize() and not store._waiting, "the first minute")
    for each in tmp_path.glob(f"{HISTORY_DB}*"):
        each.unlink()
    store.record(T0 + 61, {"people": 2}, ["line:out"])
    store.close()
    assert (tmp_path / HISTORY_DB).exists()
    assert "deleted while the sensor ran" in store.notice
    reopened = open_store("", tmp_path)
    rows = reopened.query("line:out", T0, T0 + 180, "minute", UTC)
    reopened.close()
    assert rows and rows[0]["total"] == 1  # what came after the deletion is kept


def test_history_files_are_private(tmp_path):
    store = open_store("", tmp_path)
    store.record(T0, {"people": 1})
    store.close()
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.glob(f"{HISTORY_DB}*")}
    assert modes and set(modes.values()) == {"0o600"}, modes


def wait(check, what: str, limit_s: float = 30) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return ""
    from occusense.history import metadata

    url = request.getfixturevalue("postgres_url")
    engine = engine_for(url, tmp_path)
    metadata.drop_all(engine)
    engine.dispose()
    return url


from tests.history.conftest import postgres_url  # noqa: E402, F401 - fixture
