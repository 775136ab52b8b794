"""Issue 26: the history store. A replay of footage with --start-time gives
figures on the API and the command line that match the reports sent; local
buckets; retention; the store off or broken never stops the sensor."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from occusense.clock import DeviceClock
from occusense.config import load_config
from occusense.history import HistoryStore, bucket_start, engine_for
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.app import create_app
from occusense.web.server import WebServer
from occusense.web.state import SensorState
from tests.conftest import REPO, SAMPLE_VIDEO
from tests.fleet.conftest import site  # noqa: F401 - fixture
from tests.web.test_api import bearer
from tests.web.test_browser import browser, page  # noqa: F401 - fixtures

START = "2026-11-23T09:00:00+01:00"
MINUTE_REPORTS = {"interval_s": 60, "periodic_scheme": "on_the_dot", "trigger_enabled": False}


def replayed(tmp_path: Path) -> tuple[Path, list[dict]]:
    """The sample (79.5 s of video) replayed at 09:00 Berlin time, line and
    regions reported every minute on the dot; its state folder and reports."""
    jsonl = tmp_path / "reports.jsonl"
    data = yaml.safe_load((REPO / "examples" / "vtest.yaml").read_text())
    data["state_dir"] = str(tmp_path / "state")
    data["output"] = {"jsonl_path": str(jsonl)}
    data["time"] = {"timezone": "Europe/Berlin"}
    data["line_crossing"]["report"] = MINUTE_REPORTS
    data["region_counting"]["report"] = MINUTE_REPORTS
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    run = subprocess.run([sys.executable, "-m", "occusense.cli", "run", "--config",
                          str(tmp_path / "c.yaml"), "--source", str(SAMPLE_VIDEO), "--no-web",
                          "--quiet", "--start-time", START], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return tmp_path / "state", [json.loads(x) for x in jsonl.read_text().splitlines()]


def test_a_replay_gives_history_that_matches_the_reports(tmp_path):
    state, sent = replayed(tmp_path)
    lines = [r for r in sent if r["event"] == "Line Crossing Counting"
             and r["report_type"] == "interval"]
    assert lines, "the replay made no minute report"
    run = subprocess.run([sys.executable, "-m", "occusense.cli", "history", "--state",
                          str(state), "--series", "line:in", "--bucket", "minute",
                          "--from", "2026-11-23T09:00", "--to", "2026-11-23T09:02",
                          "--format", "json"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    minutes = {row["start"]: row["total"] for row in json.loads(run.stdout)}
    assert set(minutes) <= {"2026-11-23T09:00:00+01:00", "2026-11-23T09:01:00+01:00"}
    first = lines[0]  # 09:00-09:01, the first whole minute
    assert minutes.get("2026-11-23T09:00:00+01:00", 0) == first["in_counted"]
    hourly = subprocess.run([sys.executable, "-m", "occusense.cli", "history", "--state",
                             str(state), "--series", "line:in", "--from", "2026-11-23",
                             "--to", "2026-11-24", "--format", "csv"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert hourly.stdout.splitlines()[0] == "start,series,mean,peak,minutes,total"
    total_in = sum(int(x.split(",")[-1]) for x in hourly.stdout.splitlines()[1:])
    assert total_in == sum(minutes.values())
    listed = subprocess.run([sys.executable, "-m", "occusense.cli", "history", "--state",
                             str(state)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert {"people", "line:in", "line:out", "region:west walkway"} <= set(
        listed.stdout.split("\n"))
    store = HistoryStore(engine_for("", state))
    assert len(store.reports_between(0, 2e9)) == len(sent)  # every report is kept
    # and the API gives the same figures, by the hour and by the minute
    from occusense.config.running import RUNNING
    from occusense.history import open_history

    config = load_config(state / RUNNING)
    config.web.secure_cookies = False
    sensor = SensorState(config)
    sensor.history_store = open_history(config)
    server = WebServer(create_app(sensor), "127.0.0.1", 0)
    base = server.url.rstrip("/")
    try:
        with httpx.Client(timeout=30) as client:
            auth = bearer(client, sensor, base)
            ask = {"series": "line:in", "from": "2026-11-23", "to": "2026-11-24"}
            hours = client.get(f"{base}/api/history", params=ask | {"bucket": "hour"},
                               headers=auth).json()["buckets"]
            by_minute = client.get(f"{base}/api/history", params=ask | {"bucket": "minute"},
                                   headers=auth).json()["buckets"]
    finally:
        server.stop()
    assert [h["start"] for h in hours] == ["2026-11-23T09:00:00+01:00"]
    assert hours[0]["total"] == total_in
    assert by_minute[0]["total"] == first["in_counted"]


def test_the_api_answers_from_the_store_in_json_and_csv(tmp_path):
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.output.jsonl_path = ""
    config.web.secure_cookies = False
    config.time.timezone = "Asia/Kolkata"  # a half-hour zone: local hours are not UTC hours
    state = SensorState(config)
    runner = SensorRunner(state, open_source(str(SAMPLE_VIDEO), 1_764_633_600.0), 1_764_633_600.0,
                          [])
    thread = threading.Thread(target=runner.run, args=(400,), daemon=True)
    thread.start()
    thread.join(timeout=120)
    server = WebServer(create_app(state), "127.0.0.1", 0)
    base = server.url.rstrip("/")
    try:
        with httpx.Client(timeout=30) as client:
            auth = bearer(client, state, base)
            ask = {"series": "people", "from": "1764633600", "to": "1764637200",
                   "bucket": "minute"}
            answer = client.get(f"{base}/api/history", params=ask, headers=auth)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["timezone"] == "Asia/Kolkata"
            assert body["buckets"][0]["start"].endswith("+05:30")
            assert 0 < body["buckets"][0]["peak"] < 20
            csv = client.get(f"{base}/api/history", params=ask | {"format": "csv"},
                             headers=auth)
            assert csv.headers["content-type"].startswith("text/csv")
            assert len(csv.text.splitlines()) == len(body["buckets"]) + 1
            bad = client.get(f"{base}/api/history", params=ask | {"from": "yesterday"},
                             headers=auth)
            assert bad.status_code == 400 and "ISO" in bad.json()["detail"]
            assert client.get(f"{base}/api/history", headers=auth).json()["points"]
    finally:
        server.stop()


@pytest.mark.parametrize(("local", "bucket", "start"), [
    ("2026-03-29T03:30:00+02:00", "day", "2026-03-29T00:00:00+01:00"),  # DST began at 02:00
    ("2026-12-02T15:10:00+01:00", "week", "2026-11-30T00:00:00+01:00"),  # Monday
    ("2026-12-02T15:10:00+01:00", "hour", "2026-12-02T15:00:00+01:00"),
])
def test_buckets_follow_the_local_calendar(local, bucket, start):
    from datetime import datetime

    clock = DeviceClock("Europe/Berlin")
    moment = clock.local(datetime.fromisoformat(local).timestamp())
    assert bucket_start(moment, bucket).isoformat() == start


def test_old_data_goes_by_the_retention(tmp_path):
    store = HistoryStore(engine_for("", tmp_path), retention_days=2)
    store._last_trim = time.monotonic()  # the writer's own hourly trim (by the real clock) waits
    now = 1_764_633_600.0
    for day in range(5):  # an hour before midnight of each of the last 5 days
        store.record(now - day * 86400 - 3600, {"people": 3})
        store.record(now - day * 86400 - 3540, {"people": 3})  # closes that minute
    store.flush()
    assert store.trim(now) > 0
    left = store.query("people", now - 10 * 86400, now + 3600, "day", DeviceClock("UTC"))
    assert len(left) == 2  # the two days within the retention


def test_a_history_that_cannot_open_leaves_the_sensor_counting(tmp_path, caplog):
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.output.jsonl_path = ""
    config.history.url = "postgresql://nobody:secret@127.0.0.1:9/none"
    state = SensorState(config)
    runner = SensorRunner(state, open_source(str(SAMPLE_VIDEO)), 0.0, [])
    assert runner.history is None and "without a history" in caplog.text
    assert "secret" not in caplog.text
    assert runner.run(max_frames=20) == 20


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return ""
    url = request.getfixturevalue("postgres_url")

    from occusense.history import metadata

    engine = engine_for(url, tmp_path)
    metadata.drop_all(engine)  # each test its own empty tables
    engine.dispose()
    return url


def test_both_stores_keep_bucket_and_sum_a_sites_cameras(store_url, tmp_path):
    clock = DeviceClock("Europe/Berlin")
    start = 1_764_633_600.0  # 01:00 Berlin
    lobby = HistoryStore(engine_for(store_url, tmp_path), "lobby")
    hall = HistoryStore(engine_for(store_url, tmp_path), "hall")
    for second in range(0, 7200, 10):
        lobby.record(start + second, {"people": 2}, ["line:in"] if second % 600 == 0 else [])
        hall.record(start + second, {"people": 3})
    lobby.report(start, "line", '{"event": "Line Crossing Counting"}')
    lobby.flush()
    hall.flush()
    hours = lobby.query("people", start, start + 7200, "hour", clock)
    assert [h["start"] for h in hours] == ["2025-12-02T01:00:00+01:00",
                                           "2025-12-02T02:00:00+01:00"]
    assert hours[0]["mean"] == 2 and hours[0]["minutes"] == 60
    summed = lobby.query("people", start, start + 7200, "day", clock, ["lobby", "hall"])
    assert summed[0]["mean"] == 5 and summed[0]["peak"] == 5  # the site's people: the sum
    assert lobby.query("line:in", start, start + 7200, "day", clock)[0]["total"] == 12
    assert lobby.series_names(["lobby"]) == ["line:in", "people"]
    assert len(lobby.reports_between(start - 1, start + 1)) == 1
    lobby.retention_days = 1
    assert lobby.trim(start + 3 * 86400) > 0
    assert lobby.query("people", start, start + 7200, "hour", clock) == []
    assert hall.query("people", start, start + 7200, "hour", clock)  # its camera's own
    lobby.close()
    hall.close()


def test_a_sensor_writes_its_history_to_postgresql(postgres_url, tmp_path):
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.output.jsonl_path = ""
    config.history.url = postgres_url
    state = SensorState(config)
    runner = SensorRunner(state, open_source(str(SAMPLE_VIDEO), 1_764_633_600.0),
                          1_764_633_600.0, [], camera="pg-lobby")
    assert runner.run(max_frames=700) == 700
    rows = runner.history.query("people", 1_764_633_600.0, 1_764_633_700.0, "minute",
                                DeviceClock("UTC"))
    assert rows and rows[0]["peak"] > 0
    assert not (tmp_path / "state" / "history.sqlite").exists()


def test_the_history_page_shows_a_replayed_day(tmp_path, page):  # noqa: F811
    from playwright.sync_api import expect

    from occusense.config.running import RUNNING
    from occusense.history import open_history
    from tests.web.test_browser import activate

    state_dir, _ = replayed(tmp_path)
    config = load_config(state_dir / RUNNING)
    config.web.secure_cookies = False
    state = SensorState(config)
    state.history_store = open_history(config)
    server = WebServer(create_app(state), "127.0.0.1", 0)
    base = server.url.rstrip("/")
    try:
        activate(page, base)
        page.goto(f"{base}/history?period=day&date=2026-11-23")
        chart = page.locator("#occupancy polyline")
        expect(chart).to_have_count(2)  # mean and peak
        expect(page.locator("#inout polyline")).to_have_count(2)  # in and out
        expect(page.locator("#occupancy .axes text").first).to_be_visible()
        rows = page.locator("table.utilisation tbody tr")
        expect(rows).to_have_count(3)  # all, west walkway, east walkway
        expect(page.locator('tr[data-region="all"] td').nth(1)).to_have_text("1")  # 09:00
        expect(page.locator('tr[data-region="all"] td').nth(5)).to_have_text("09:00")
        page.screenshot(path=str(tmp_path / "history.png"), full_page=True)
        csv = page.locator("#csv-in").get_attribute("href")
        assert "format=csv" in csv and "line%3Ain" in csv
        week = page.request.get(f"{base}/api/utilisation?period=week&date=2026-11-23")
        assert week.ok and week.json()["regions"][0]["region"] == "all"
    finally:
        server.stop()
    import shutil

    shutil.copy(tmp_path / "history.png", "/tmp/history.png")


def test_a_site_sums_its_cameras_history(site):  # noqa: F811
    from occusense.web.auth import hash_secret
    from tests.web.conftest import PASSWORD

    assert site.running("lobby", "entrance")
    site.web.account.save({"activated": True, "password_hash": hash_secret(PASSWORD)},
                          "test", "normal")
    time.sleep(2)
    stores = [site.service.cameras[c].state.history_store for c in ("lobby", "entrance")]
    for store in stores:
        store.flush()  # the open minute, written now
    token = httpx.post(f"{site.url}/api/token", data={"password": PASSWORD},
                       timeout=30).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    ask = {"series": "people", "bucket": "minute", "from": str(time.time() - 600)}
    whole = httpx.get(f"{site.url}/api/history", params=ask, headers=auth, timeout=30)
    assert whole.status_code == 200, whole.text
    assert whole.json()["cameras"] == 2
    each = [httpx.get(f"{site.url}/api/cameras/{c}/history", params=ask, headers=auth,
                      timeout=30).json()["buckets"] for c in ("lobby", "entrance")]
    last = whole.json()["buckets"][-1]
    parts = [next(b for b in rows if b["start"] == last["start"]) for rows in each]
    assert last["mean"] == pytest.approx(sum(p["mean"] for p in parts), abs=0.01)


def test_the_day_that_ended_is_written_as_a_utilisation_csv(tmp_path):
    from datetime import datetime

    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.output.jsonl_path = ""
    config.time.timezone = "Europe/Berlin"
    # 23:59:20 on Sunday 29 November: the replay (79.5 s) ends the day and the week
    start = datetime.fromisoformat("2026-11-29T23:59:20+01:00").timestamp()
    state = SensorState(config)
    runner = SensorRunner(state, open_source(str(SAMPLE_VIDEO), start), start, [])
    runner.run()
    folder = tmp_path / "state" / "utilisation"
    day = folder / "utilisation-day-2026-11-29.csv"
    week = folder / "utilisation-week-2026-11-23.csv"
    assert day.is_file() and week.is_file()
    lines = day.read_text().splitlines()
    assert lines[0].startswith("region,scheduled_hours,occupied_hours,occupied_share")
    assert {line.split(",")[0] for line in lines[1:]} == {"all", "west walkway",
                                                          "east walkway"}
    assert lines[1].split(",")[1] == "1"  # the 23:00 hour, counted
