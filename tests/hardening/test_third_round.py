"""Issue 34, items 4 and 6-10: a site starts whatever its state files hold,
a camera's deleted state folder is made again, removed spaces leave Home
Assistant, CSV cells are safe in a spreadsheet, history queries are bounded
and hostile parameters get one clear error, state files are private."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from occusense.config import load_config
from occusense.history import (
    HistoryStore,
    HistoryUnavailable,
    QueryGate,
    csv_text,
    engine_for,
    to_csv,
)
from occusense.history.utilisation import to_csv as utilisation_csv
from occusense.persist import COUNTS, shapes
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.spaces import Spaces, SpaceSettings
from occusense.transports.homeassistant import SpacePublisher
from occusense.web.sessions import SessionStore
from occusense.web.state import SensorState
from tests.conftest import REPO, SAMPLE_VIDEO
from tests.fleet.conftest import start_site, write_camera
from tests.sources.test_rtsp_camera import Retained
from tests.transports.conftest import broker, ca, wait_for  # noqa: F401 - fixtures

SHOP = SpaceSettings.model_validate({"id": "shop", "lines": [{"camera": "door"}]})


def set_aside(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f"{name}.corrupt-*"))


@pytest.mark.parametrize("saved", [
    '{"spaces": []}',  # valid JSON of another shape
    '{"spaces": {"shop": {"occupancy": "many"}}}',  # a wrong type inside
    '{"spaces": {"shop": {"lines": {"door": 7}}}}',
    '{"spaces": {"shop": {"occupancy": 1e999}}}',
    '["not", "a", "spaces", "file"]',
    '{"spaces": {"shop"',  # broken JSON
])
def test_an_unusable_spaces_file_is_set_aside_and_counting_starts_from_0(tmp_path, caplog,
                                                                         saved):
    path = tmp_path / "spaces.json"
    path.write_text(saved)
    spaces = Spaces([SHOP], path)
    assert spaces.occupancy("shop") == 0
    spaces.observe({"door": {"in": 3, "out": 0}})
    spaces.close()
    kept = set_aside(tmp_path, "spaces.json")
    assert len(kept) == 1 and kept[0].read_text() == saved  # never overwritten
    assert len([r for r in caplog.records if "unreadable" in r.getMessage()]) == 1


def test_a_site_starts_with_a_spaces_file_of_another_shape(tmp_path):
    root = tmp_path / "site"
    write_camera(root, "door")
    (root / "site.yaml").write_text(yaml.safe_dump({
        "name": "Shop", "web": {"secure_cookies": False},
        "spaces": [{"id": "shop", "lines": [{"camera": "door"}]}]}))
    (root / "state" / "site").mkdir(parents=True)
    (root / "state" / "site" / "spaces.json").write_text('{"spaces": []}')
    site, _follower = start_site(root, web=False)
    try:
        assert site.running("door", timeout=60)
        assert site.service.spaces.snapshot()["shop"]["occupancy"] >= 0
    finally:
        site.service.stop()
    assert set_aside(root / "state" / "site", "spaces.json")


def test_saved_counts_with_a_wrong_type_inside_are_set_aside(tmp_path, caplog):
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.output.jsonl_path = ""
    (tmp_path / "state").mkdir()
    saved = json.dumps({"format": 1, "shapes": shapes(config), "last_ts": 0,
                        "line": {"cumulative": ["many", 1], "period": [0, 0], "since": None}})
    (tmp_path / "state" / COUNTS).write_text(saved)
    runner = SensorRunner(SensorState(config), open_source(str(SAMPLE_VIDEO)), 0.0, [])
    assert runner.run(max_frames=5) == 5
    kept = set_aside(tmp_path / "state", COUNTS)
    assert len(kept) == 1 and kept[0].read_text() == saved
    assert "do not fit" in caplog.text


def test_unusable_sessions_are_set_aside(tmp_path, caplog):
    path = tmp_path / "sessions.json"
    path.write_text("[1, 2, 3]")
    with caplog.at_level(logging.WARNING):
        assert SessionStore(path).get("anything") is None
    assert set_aside(tmp_path, "sessions.json") and "everyone logs in again" in caplog.text


def test_a_site_cameras_deleted_state_folder_is_made_again(tmp_path, caplog):
    import shutil

    root = tmp_path / "site"
    write_camera(root, "door")
    site, _follower = start_site(root, web=False)
    try:
        assert site.running("door", timeout=60)
        folder = root / "state" / "door"
        before = site.service.cameras["door"]
        shutil.rmtree(folder)
        assert wait_for(lambda: site.service.cameras["door"] is not before
                        and site.service.cameras["door"].running, timeout=60)
        assert wait_for(lambda: (folder / "counts.json").exists(), timeout=30)
        assert (folder / "lock").read_text().strip() == str(__import__("os").getpid())
        assert (folder / "config.yaml").exists()  # the running settings written again
        notice = site.service.cameras["door"].state.notice
        assert "was deleted while it ran" in notice
    finally:
        site.service.stop()
    assert "was deleted while it ran" in caplog.text


def test_a_removed_space_leaves_home_assistant(tmp_path, broker):  # noqa: F811
    from occusense.fleet.site import SiteSettings

    settings = SiteSettings.model_validate({"home_assistant": {
        "enabled": True, "host": "127.0.0.1", "port": broker.port}}).home_assistant
    watcher = Retained(broker.port)
    both = SpacePublisher(settings, "Shop", [("shop", "Shop", 5), ("store", "Store", 0)])
    config = "homeassistant/sensor/shop/space_store/config"
    state = "occusense/shop/spaces/store"
    try:
        assert wait_for(lambda: config in watcher.last, timeout=30)
        both.update({"store": {"name": "Store", "occupancy": 4, "capacity": None,
                               "overcrowded": False}})
        assert wait_for(lambda: state in watcher.last, timeout=30)
        one = SpacePublisher(settings, "Shop", [("shop", "Shop", 5)])
        cleared = both.retract(one)
        both.close()
        assert config in cleared and state in cleared
        assert "homeassistant/sensor/shop/space_shop/config" not in cleared
        assert wait_for(lambda: watcher.last.get(config) == "" and
                        watcher.last.get(state) == "", timeout=30)
        one.close()
    finally:
        watcher.close()
    late = Retained(broker.port)  # a new subscriber: nothing retained of the store
    try:
        assert wait_for(lambda: "homeassistant/sensor/shop/space_shop/config" in late.last,
                        timeout=30)
        time.sleep(0.5)
        assert config not in late.last and state not in late.last
    finally:
        late.close()


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted():
    hostile = "=cmd|' /C calc'!A0"
    text = utilisation_csv([{"region": hostile, "scheduled_hours": 8, "mean_people": -1.5}])
    row = text.splitlines()[1]
    assert row.startswith("'=cmd|")
    assert ",-1.5" in row  # numbers stay numbers
    for start in ("+", "-", "@", "\t", "\r"):
        assert csv_text([{"a": f"{start}x"}], ["a"]).splitlines()[1].startswith(("'", '"\''))
    assert to_csv([{"start": "2026", "series": "region:=1+1", "mean": 1}]).splitlines()[1] \
        .startswith("2026,region:=1+1")  # not at the start of the cell: harmless


def test_a_space_with_both_lines_and_regions_is_refused():
    with pytest.raises(ValueError, match="not both"):
        SpaceSettings.model_validate({"id": "hall", "lines": [{"camera": "door"}],
                                      "regions": [{"camera": "top", "region": "west"}]})


def test_history_queries_wait_in_a_bounded_line():
    gate = QueryGate(slots=1, line=1)
    release = threading.Event()

    async def three() -> list:
        jobs = [gate.run(release.wait, 30) for _ in range(3)]
        tasks = [asyncio.ensure_future(job) for job in jobs]
        await asyncio.sleep(0.2)
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    answers = asyncio.run(three())
    assert answers.count(True) == 2
    refused = [a for a in answers if isinstance(a, HistoryUnavailable)]
    assert len(refused) == 1 and "try again" in str(refused[0])


def test_hostile_parameters_get_one_clear_error(tmp_path):
    from occusense.config import DeviceConfig
    from occusense.heatmap import open_heatmap
    from occusense.history import open_store
    from occusense.web.app import create_app
    from occusense.web.server import WebServer
    from tests.web.test_api import bearer

    state = SensorState(DeviceConfig(state_dir=str(tmp_path / "state")))
    state.history_store = open_store("", tmp_path / "state")
    state.heatmap = open_heatmap(tmp_path / "state")
    web = WebServer(create_app(state), "127.0.0.1", 0)
    base = web.url.rstrip("/")
    try:
        with httpx.Client(timeout=30) as client:
            auth = bearer(client, state, base)
            for path in ("/api/history?series=people&from=1e308&to=nan",
                         "/api/history?series=people&from=99999999999",
                         "/api/heatmap?from=-99999999999&to=99999999999",
                         "/api/utilisation?date=0001-01-01",
                         "/api/utilisation?date=9999-12-31",
                         "/api/recordings/%00",
                         "/api/recordings/..%2F..%2Fconfig.yaml",
                         "/history?date=0001-01-01"):
                answer = client.get(base + path, headers=auth)
                assert 400 <= answer.status_code < 500, (path, answer.status_code)
                assert "Traceback" not in answer.text
            good = client.get(f"{base}/api/history", headers=auth, params={
                "series": "people", "from": "2026-12-01", "to": "2026-12-02T08:00"})
            assert good.status_code == 200
            backwards = client.get(f"{base}/api/history", headers=auth, params={
                "series": "people", "from": "2026-12-02", "to": "2026-12-01"})
            assert backwards.status_code == 400 and "before" in backwards.json()["detail"]
    finally:
        web.stop()
        state.history_store.close()


@pytest.mark.parametrize("arguments,words", [
    (["--from", "1e308"], "a time from 1970"),
    (["--from", "nan"], "a time from 1970"),
    (["--from", "2026-12-02", "--to", "2026-12-01"], "from must be before to"),
])
def test_the_history_command_says_what_is_wrong(tmp_path, arguments, words):
    store = HistoryStore(engine_for("", tmp_path), "")
    store.record(1_764_633_600, {"people": 1})
    store.close()
    run = subprocess.run([sys.executable, "-m", "occusense.cli", "history", "--state",
                          str(tmp_path), "--series", "people", *arguments],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 2 and words in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_heatmap_and_report_files_are_private(tmp_path):
    from occusense.heatmap import open_heatmap
    from occusense.transports.local import JsonlSink

    heatmap = open_heatmap(tmp_path)
    heatmap.close()
    sink = JsonlSink(tmp_path / "reports.jsonl")
    sink.close()
    for name in ("heatmap.sqlite", "reports.jsonl"):
        assert oct((tmp_path / name).stat().st_mode & 0o777) == "0o600", name
