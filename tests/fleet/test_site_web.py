"""Issue 20: the site's web GUI and REST API over real HTTP: one account for
every camera, each camera's pages and API under its id, cameras added,
replaced and removed through the API, /metrics labelled by camera."""

from __future__ import annotations

import html
import re

import httpx
import pytest
import yaml

from tests.fleet.conftest import PASSWORD, Site, camera_document
from tests.transports.conftest import wait_for


def activated(site: Site, privacy: str = "normal") -> httpx.Client:
    client = httpx.Client(base_url=site.url, timeout=10)
    page = client.get("/", follow_redirects=True)
    assert page.url.path == "/activate"
    form = {"csrf_token": csrf(page.text), "password": PASSWORD, "confirm": PASSWORD,
            "privacy_mode": privacy, "question0": "Your first pet?", "answer0": "Rex"}
    landed = client.post("/activate", data=form, follow_redirects=True)
    assert landed.url.path == "/cameras", landed.text[:300]
    return client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def token(site: Site) -> dict[str, str]:
    reply = httpx.post(f"{site.url}/api/token", data={"password": PASSWORD})
    assert reply.status_code == 200
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def test_nothing_without_the_site_account(site: Site):
    for path in ("/api/cameras", "/api/cameras/lobby/status", "/metrics",
                 "/api/cameras/lobby/config"):
        assert httpx.get(f"{site.url}{path}").status_code == 401, path
    page = httpx.get(f"{site.url}/cameras/lobby/live")
    assert page.status_code == 303 and page.headers["location"] == "/activate"


def test_one_login_opens_every_camera(site: Site):
    client = activated(site)
    assert site.running("lobby", "entrance")
    listing = client.get("/cameras")
    assert "Lobby" in listing.text and "entrance" in listing.text
    for camera in ("lobby", "entrance"):
        live = client.get(f"/cameras/{camera}/live")
        assert live.status_code == 200
        # the camera's page links and scripts stay under its own path
        assert f'href="/cameras/{camera}/region"' in live.text
        assert f'data-base="/cameras/{camera}"' in live.text
        status = client.get(f"/api/cameras/{camera}/status").json()
        assert "people" in status["counts"]
    assert client.get("/cameras/nowhere/live").status_code == 404
    # the activation's privacy mode reached every camera
    assert all(c.state.config.privacy_mode.value == "normal"
               for c in site.service.cameras.values())
    # one logout ends it everywhere
    client.post("/logout", data={"csrf_token": csrf(client.get("/cameras").text)})
    assert client.get("/api/cameras/lobby/status").status_code == 401


def test_a_cameras_settings_change_through_its_api_alone(site: Site):
    client = activated(site)
    assert site.running("lobby", "entrance")
    headers = {"X-CSRF-Token": csrf(client.get("/cameras").text)}
    device = client.get("/api/cameras/lobby/config/device").json()
    device["name"] = "Lobby, east door"
    changed = client.put("/api/cameras/lobby/config/device", json=device, headers=headers)
    assert changed.status_code == 200, changed.text
    assert site.service.cameras["lobby"].state.config.device.name == "Lobby, east door"
    assert site.service.cameras["entrance"].state.config.device.name == "entrance"
    # without the CSRF token a session may not change anything
    refused = client.put("/api/cameras/lobby/config/device", json=device)
    assert refused.status_code == 403


def test_cameras_are_added_replaced_and_removed_through_the_api(site: Site):
    activated(site)
    auth = token(site)
    api = httpx.Client(base_url=site.url, headers=auth, timeout=10)
    added = api.post("/api/cameras", json={"id": "yard", "config": camera_document("Yard")})
    assert added.status_code == 201, added.text
    assert wait_for(lambda: api.get("/api/cameras/yard").json().get("frames", 0) > 0, 30)
    names = [c["id"] for c in api.get("/api/cameras").json()["cameras"]]
    assert names == ["entrance", "lobby", "yard"]
    assert api.post("/api/cameras", json={"id": "yard", "config": camera_document()}
                    ).status_code == 409
    assert api.post("/api/cameras", json={"id": "Bad Id", "config": camera_document()}
                    ).status_code == 422
    bad = camera_document()
    bad["region_counting"]["regions"].append({"name": "two points",
                                              "points": [[0, 0], [1, 1]]})
    refused = api.post("/api/cameras", json={"id": "gate", "config": bad})
    assert refused.status_code == 422 and "points" in refused.text
    assert not (site.root / "cameras" / "gate.yaml").exists()
    replaced = api.put("/api/cameras/yard", json=camera_document("Back yard"))
    assert replaced.status_code == 200 and replaced.json()["name"] == "Back yard"
    removed = api.delete("/api/cameras/yard")
    assert removed.status_code == 200 and removed.json()["file"].startswith("yard-")
    assert [c["id"] for c in api.get("/api/cameras").json()["cameras"]] == ["entrance", "lobby"]
    assert api.get("/api/cameras/yard/status").status_code == 404


def test_metrics_say_which_camera(site: Site):
    activated(site)
    assert site.running("lobby", "entrance")
    text = httpx.get(f"{site.url}/metrics", headers=token(site)).text
    for camera in ("lobby", "entrance"):
        assert re.search(rf'occusense_frames_total\{{camera="{camera}"\}} [1-9]', text)
        assert f'occusense_people{{camera="{camera}",region="west walkway"}}' in text
    runs = re.search(r'occusense_pool_inferences_total\{model="nanodet-416.onnx"\} (\d+)', text)
    answered = re.search(r'occusense_pool_inputs_total\{model="nanodet-416.onnx"\} (\d+)', text)
    assert runs and answered and 0 < int(float(runs.group(1))) <= int(float(answered.group(1)))


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b'{"id": 3}'])
def test_garbage_to_the_cameras_api_is_refused(site: Site, body: bytes):
    activated(site)
    reply = httpx.post(f"{site.url}/api/cameras", content=body, headers=token(site))
    assert reply.status_code == 400
    assert sorted(site.service.cameras) == ["entrance", "lobby"]


def test_a_camera_files_secrets_are_not_shown_and_survive_a_save(site: Site):
    client = activated(site)
    path = site.root / "cameras" / "lobby.yaml"
    document = camera_document("Lobby")
    document["line_crossing"]["report"] |= {
        "protocol": "mqtt", "mqtt": {"host": "127.0.0.1", "port": 1, "password": "s3cret-Pw"}}
    path.write_text(yaml.safe_dump(document))
    assert wait_for(lambda: site.service.cameras["lobby"].state.config.line_crossing.report
                    .mqtt.host == "127.0.0.1")
    page = client.get("/cameras/lobby/file").text
    assert "s3cret-Pw" not in page and "**********" in page
    text = re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    text = html.unescape(text).replace("name: Lobby", "name: Lobby west")
    saved = client.post("/cameras/lobby/file", data={"csrf_token": csrf(page), "text": text},
                        follow_redirects=True)
    assert "saved and applied" in saved.text
    kept = yaml.safe_load(path.read_text())
    assert kept["line_crossing"]["report"]["mqtt"]["password"] == "s3cret-Pw"
    assert kept["device"]["name"] == "Lobby west"
    config = site.service.cameras["lobby"].state.config
    assert config.line_crossing.report.mqtt.password.get_secret_value() == "s3cret-Pw"


def test_a_blur_site_keeps_every_camera_blurred_those_added_later_too(site: Site):
    client = activated(site, privacy="blur")
    assert site.running("lobby", "entrance")
    modes = lambda: {c.state.config.privacy_mode.value  # noqa: E731
                     for c in site.service.cameras.values()}
    assert modes() == {"blur"}
    headers = {"X-CSRF-Token": csrf(client.get("/cameras").text)}
    added = client.post("/api/cameras", headers=headers,
                        json={"id": "yard", "config": camera_document() | {
                            "privacy_mode": "normal"}})
    assert added.status_code == 201, added.text
    assert site.running("yard") and modes() == {"blur"}
    assert client.get("/cameras/yard/snapshot.jpg").status_code == 403
    # the service starting again reads the site's mode from its account
    from occusense.web.account import SiteAccount

    kept = SiteAccount(site.root / "state" / "site" / "account.yaml", lambda mode: None)
    assert kept.privacy_mode is not None and kept.privacy_mode.value == "blur"


def test_an_unreadable_site_account_is_named_not_replaced(tmp_path):
    from occusense.errors import ConfigError
    from occusense.web.account import SiteAccount

    path = tmp_path / "account.yaml"
    path.write_text("users: {activated: true, password_hash: [unclosed\n")
    with pytest.raises(ConfigError, match=r"account\.yaml: the site account is unreadable"):
        SiteAccount(path, lambda mode: None)
    assert path.read_text().startswith("users: {activated")  # left for the admin to restore


def test_the_file_page_shows_gui_changes_and_keeps_or_discards_them(site: Site):
    """Issue 28 (2): a region renamed on the camera's page survives an edit of
    its file on the File page, unless the admin chooses to discard it."""
    client = activated(site)
    assert site.running("lobby")
    headers = {"X-CSRF-Token": csrf(client.get("/cameras").text)}
    regions = client.get("/api/cameras/lobby/config").json()["region_counting"]["regions"]
    regions[0]["name"] = "reception"
    assert client.put("/api/cameras/lobby/config/region_counting", headers=headers,
                      json={"regions": regions}).status_code == 200
    page = client.get("/cameras/lobby/file").text
    assert "region_counting.regions" in page and "reception" in page  # shown before a save

    def save(choice: str, name: str) -> None:
        page = client.get("/cameras/lobby/file").text
        text = re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', page, re.S).group(1)
        text = re.sub(r"name: Lobby.*", f"name: {name}", html.unescape(text), count=1)
        saved = client.post("/cameras/lobby/file", follow_redirects=True, data={
            "csrf_token": csrf(page), "text": text, "gui_changes": choice})
        assert "saved and applied" in saved.text

    save("keep", "Lobby west")
    lobby = site.service.cameras["lobby"]
    assert wait_for(lambda: lobby.state.config.device.name == "Lobby west")
    assert lobby.state.config.region_counting.regions[0].name == "reception"  # kept
    save("discard", "Lobby east")
    assert wait_for(lambda: site.service.cameras["lobby"].state.config.device.name
                    == "Lobby east")
    config = site.service.cameras["lobby"].state.config
    assert config.region_counting.regions[0].name == "west walkway"  # the file's again
    assert "None: the camera runs with the file's settings" in client.get(
        "/cameras/lobby/file").text
