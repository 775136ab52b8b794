"""Issue 29: spaces of a site: one occupancy from several doors' lines (never
below 0, corrected by hand, reset on schedule, kept across restarts), on
its own MQTT topic, in Home Assistant, /metrics and the cameras page."""

from __future__ import annotations

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from occusense.spaces import Spaces, SpaceSettings
from tests.fleet.conftest import site, start_site, write_camera  # noqa: F401 - fixture
from tests.fleet.test_site_web import activated, csrf
from tests.sources.test_rtsp_camera import Retained
from tests.transports.conftest import broker, ca, wait_for  # noqa: F401 - fixtures
from tests.web.conftest import sensor  # noqa: F401 - fixture
from tests.web.test_browser import browser  # noqa: F401 - fixture

DOORS = [{"camera": "front", "direction": "in_enters"},
         {"camera": "back", "direction": "in_leaves"}]


def space(**extra) -> SpaceSettings:
    return SpaceSettings.model_validate({"id": "shop", "lines": DOORS} | extra)


def test_doors_add_and_take_away_and_the_space_never_goes_below_zero(tmp_path):
    spaces = Spaces([space()], tmp_path / "spaces.json")
    look = lambda front, back: spaces.observe(  # noqa: E731
        {"front": {"in": front[0], "out": front[1]}, "back": {"in": back[0], "out": back[1]}})
    look((0, 0), (0, 0))  # the first look: only what happens from now on counts
    look((5, 1), (0, 0))  # 5 in at the front, 1 out
    assert spaces.snapshot()["shop"]["occupancy"] == 4
    look((5, 1), (3, 0))  # the back line's In is people leaving: 3 left
    assert spaces.snapshot()["shop"]["occupancy"] == 1
    look((5, 4), (3, 0))  # 3 more out at the front than there are inside
    assert spaces.snapshot()["shop"]["occupancy"] == 0  # never below 0
    look((2, 0), (3, 0))  # the front line was reset (redrawn): its 2 are new entries
    assert spaces.snapshot()["shop"]["occupancy"] == 2
    assert spaces.set("shop", 12)["occupancy"] == 12  # "there are 12 inside now"
    with pytest.raises(ValueError):
        spaces.set("shop", -1)
    spaces.close()
    again = Spaces([space()], tmp_path / "spaces.json")  # a restart
    assert again.snapshot()["shop"]["occupancy"] == 12
    again.observe({"front": {"in": 3, "out": 0}, "back": {"in": 3, "out": 0}})
    assert again.snapshot()["shop"]["occupancy"] == 13  # the counts go on from where they were


def test_a_space_resets_on_its_schedule_and_one_watched_from_above_counts_its_regions(tmp_path):
    reset = {"enabled": True, "day": "everyday", "hour": 3, "minute": 0}
    spaces = Spaces([space(reset=reset)], tmp_path / "spaces.json", "Europe/Berlin")
    night = datetime(2026, 12, 7, 2, 59, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    spaces.observe({"front": {"in": 0, "out": 0}, "back": {"in": 0, "out": 0}}, night)
    spaces.observe({"front": {"in": 7, "out": 0}, "back": {"in": 0, "out": 0}}, night + 30)
    assert spaces.snapshot()["shop"]["occupancy"] == 7
    spaces.observe({"front": {"in": 7, "out": 0}, "back": {"in": 0, "out": 0}}, night + 90)
    assert spaces.snapshot()["shop"]["occupancy"] == 0  # 03:00 passed
    above = Spaces([SpaceSettings.model_validate({
        "id": "hall", "regions": [{"camera": "top", "region": "west"},
                                  {"camera": "top", "region": "east"}]})], tmp_path / "s2.json")
    above.observe({"top": {"west": 3, "east": 2, "people": 5}})
    assert above.snapshot()["hall"]["occupancy"] == 5


def test_a_site_with_two_doors_shows_its_space_everywhere(tmp_path, broker):  # noqa: F811
    """Done when: two cameras, each with a line at one door of one space: the
    space's occupancy (never negative) on the cameras page, in MQTT, in Home
    Assistant's discovery and in /metrics; set by hand over the API."""
    root = tmp_path / "site"
    for camera in ("front", "back"):
        write_camera(root, camera)  # the sample's line: people cross both ways
    (root / "site.yaml").write_text(yaml.safe_dump({
        "name": "Corner shop", "web": {"secure_cookies": False},
        "spaces": [{"id": "shop", "name": "Shop floor", "lines": DOORS, "capacity": 3}],
        "home_assistant": {"enabled": True, "host": "127.0.0.1", "port": broker.port}}))
    watcher = Retained(broker.port)
    corner, follower = start_site(root)
    try:
        assert corner.running("front", "back", timeout=60)
        config = "homeassistant/sensor/corner_shop/space_shop/config"
        assert wait_for(lambda: config in watcher.last, timeout=30)
        sensor = json.loads(watcher.last[config])
        assert sensor["state_topic"] == "occusense/corner_shop/spaces/shop"
        occupied = json.loads(watcher.last["homeassistant/binary_sensor/corner_shop/"
                                          "space_shop/config"])
        assert occupied["device_class"] == "occupancy"
        full = json.loads(watcher.last["homeassistant/binary_sensor/corner_shop/"
                                       "space_shop_full/config"])
        assert full["device_class"] == "problem"
        state_topic = "occusense/corner_shop/spaces/shop"
        assert wait_for(lambda: state_topic in watcher.last, timeout=30)
        assert watcher.last["occusense/corner_shop/availability"] == "online"
        # people cross both sample lines: the space moves, and never below 0
        seen = set()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(seen) < 3:
            seen.add(json.loads(watcher.last[state_topic])["occupancy"])
            time.sleep(0.2)
        assert min(seen) >= 0 and len(seen) >= 2, seen
        client = activated(corner)
        headers = {"X-CSRF-Token": csrf(client.get("/cameras").text)}
        assert client.put("/api/spaces/shop", headers=headers,
                          json={"occupancy": 12}).json()["occupancy"] == 12
        assert client.put("/api/spaces/shop", headers=headers,
                          json={"occupancy": -3}).status_code == 422
        assert client.put("/api/spaces/nope", headers=headers,
                          json={"occupancy": 1}).status_code == 404
        assert wait_for(lambda: json.loads(watcher.last[state_topic])["overcrowded"],
                        timeout=10)
        page = client.get("/cameras").text
        assert "Shop floor" in page and 'data-space="shop"' in page
        exposed = client.get("/metrics").text
        assert 'occusense_space_occupancy{space="shop"}' in exposed
        history = client.get("/api/history?series=space:shop&bucket=minute")
        assert history.status_code == 200 and history.json()["series"] == "space:shop"
        assert client.get("/api/history?series=space:nope").status_code == 404
        listed = client.get("/api/spaces").json()["spaces"][0]
        assert listed["id"] == "shop" and listed["capacity"] == 3
    finally:
        corner.server.stop()  # type: ignore[attr-defined]
        corner.service.stop()
        follower.join(timeout=10)
    assert wait_for(lambda: watcher.last.get("occusense/corner_shop/availability") == "offline")
    watcher.close()
    saved = json.loads((root / "state" / "site" / "spaces.json").read_text())
    assert saved["spaces"]["shop"]["occupancy"] >= 0  # kept for the next start
    from occusense.clock import DeviceClock
    from occusense.history import HistoryStore, engine_for

    history = HistoryStore(engine_for("", root / "state" / "site"), "site")
    minutes = history.query("space:shop", time.time() - 600, time.time() + 60, "minute",
                            DeviceClock("UTC"))
    assert minutes and max(m["peak"] for m in minutes) >= 12  # the site's history keeps it
    history.close()


def test_a_single_sensor_counts_the_room_its_line_watches(sensor, browser, broker):  # noqa: F811
    """Also in a single sensor: its own line's in minus out, never below 0, on
    the Live page (set by hand there), in the status API and /metrics."""
    from playwright.sync_api import expect

    from tests.web.test_screens import desktop

    state, base = sensor
    state.edit("space", {"enabled": True, "name": "Lobby", "capacity": 2})
    state.edit("home_assistant", {"enabled": True, "host": "127.0.0.1", "port": broker.port})
    assert wait_for(lambda: "space" in state.counts, timeout=30)
    page = desktop(browser, base)
    label = page.locator("dd[data-count=space]").locator("xpath=preceding-sibling::dt[1]")
    expect(label).to_have_text("Inside Lobby now (in minus out)", timeout=20000)
    page.fill("#space-occupancy", "7")
    page.click("#space-set button[type=submit]")
    expect(page.locator("#space-said")).to_have_text("set: 7 inside")
    status = page.request.get(f"{base}/api/status").json()
    assert status["space"]["occupancy"] >= 0 and status["space"]["capacity"] == 2
    metrics = page.request.get(f"{base}/metrics").text()
    assert 'occusense_space_occupancy{space="space"}' in metrics
    watcher = Retained(broker.port)
    own = lambda: json.loads(watcher.last.get("occusense/workplace_sensor/space", "{}"))  # noqa: E731
    assert wait_for(lambda: own().get("name") == "Lobby", timeout=20)  # its own topic
    assert own()["occupancy"] >= 0
    watcher.close()
    refused = page.request.put(f"{base}/api/space", data={"occupancy": -1},
                               headers={"X-CSRF-Token": page.locator("#space-set")
                                        .get_attribute("data-csrf")})
    assert refused.status == 422
    page.context.close()


def test_spaces_are_set_up_in_the_gui_and_kept_in_site_yaml(site, browser):  # noqa: F811
    """The Spaces page writes site.yaml's spaces (validated first: a space
    with no door nor region is refused, what was typed kept); the cameras
    page then lists the space; the API takes the same list."""
    from playwright.sync_api import expect

    from tests.web.test_browser import activate

    assert site.running("lobby", "entrance")
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    activate(page, site.url, "/cameras")
    page.goto(f"{site.url}/spaces")
    page.fill("#spaces-text", "- id: hall\n  name: Hall\n")
    page.click("form button[type=submit]")
    expect(page.locator("[role=alert]")).to_contain_text("give it the lines at its doors")
    expect(page.locator("#spaces-text")).to_have_value("- id: hall\n  name: Hall\n")
    page.fill("#spaces-text", "- id: hall\n  name: Hall\n  lines:\n"
                              "    - {camera: lobby, direction: in_enters}\n"
                              "    - {camera: entrance, direction: in_leaves}\n")
    page.click("form button[type=submit]")
    expect(page.locator("[role=status]")).to_contain_text("1 space(s) saved and counting")
    kept = yaml.safe_load((site.root / "site.yaml").read_text())
    assert kept["spaces"][0]["id"] == "hall" and kept["web"]["secure_cookies"] is False
    page.goto(f"{site.url}/cameras")
    expect(page.locator('tr[data-space="hall"]')).to_contain_text("Hall")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    token = csrf(page.content())
    import httpx

    answer = httpx.put(f"{site.url}/api/spaces", cookies=cookies,
                       headers={"X-CSRF-Token": token},
                       json=[{"id": "floor", "regions": [{"camera": "lobby",
                                                          "region": "west walkway"}]}])
    assert answer.status_code == 200, answer.text
    assert [s["id"] for s in answer.json()["spaces"]] == ["floor"]
    assert wait_for(lambda: site.service.spaces.snapshot()["floor"]["occupancy"] >= 0)
    page.context.close()
