"""Issue 20: many cameras in one service. Each camera is a full sensor;
adding, removing or editing one leaves the others running untouched; a bad
camera is reported and the others go on."""

from __future__ import annotations

import json
import time

import yaml

from occusense.fleet.service import FleetService
from tests.conftest import check_shapes
from tests.fleet.conftest import Site, camera_document, write_camera
from tests.transports.conftest import wait_for


def frames(site: Site, camera: str) -> int:
    state = site.service.cameras[camera].state
    return state.run.frames if state is not None else 0


def test_two_cameras_count_and_report_apart(site: Site):
    assert site.running("lobby", "entrance")
    lobby = site.service.cameras["lobby"]
    entrance = site.service.cameras["entrance"]
    assert lobby.state is not entrance.state
    assert lobby.state.config.device.name == "Lobby"
    assert lobby.state.config.device.serial_number != entrance.state.config.device.serial_number
    assert "shared by the cameras" in lobby.state.detector
    # each writes its own report file, in the VS121-P shapes
    report = site.root / "state" / "lobby" / "reports.jsonl"
    assert wait_for(lambda: report.exists() and report.stat().st_size > 0, timeout=40)
    assert check_shapes(report).returncode == 0
    first = json.loads(report.read_text().splitlines()[0])
    assert first["device_info"]["device_sn"] == lobby.state.config.device.serial_number


def test_adding_editing_and_removing_a_camera_leaves_the_others_running(site: Site):
    assert site.running("lobby", "entrance")
    lobby = site.service.cameras["lobby"]
    thread, runner = lobby.thread, lobby.runner
    # add a third by dropping its file in the folder
    write_camera(site.root, "yard")
    assert site.running("yard")
    # edit the entrance's file: applied to it alone
    entrance = site.service.cameras["entrance"]
    edited = camera_document(name="Entrance, north")
    (site.root / "cameras" / "entrance.yaml").write_text(yaml.safe_dump(edited))
    assert wait_for(lambda: entrance.state.config.device.name == "Entrance, north")
    assert site.service.cameras["entrance"] is entrance and entrance.thread.is_alive()
    # remove the yard: its file is set aside, its state folder kept
    site.service.remove("yard")
    assert "yard" not in site.service.cameras
    assert list((site.root / "cameras" / "removed").glob("yard-*.yaml"))
    assert (site.root / "state" / "yard" / "config.yaml").exists()
    # the lobby never stopped
    before = frames(site, "lobby")
    assert wait_for(lambda: frames(site, "lobby") > before + 5)
    assert lobby.thread is thread and lobby.runner is runner and thread.is_alive()


def test_a_new_source_reopens_that_camera_only(site: Site):
    assert site.running("lobby", "entrance")
    lobby, entrance = site.service.cameras["lobby"], site.service.cameras["entrance"]
    moved = camera_document()
    moved["source"]["realtime"] = False
    (site.root / "cameras" / "entrance.yaml").write_text(yaml.safe_dump(moved))
    assert wait_for(lambda: site.service.cameras["entrance"] is not entrance)
    assert site.running("entrance")
    assert site.service.cameras["lobby"] is lobby and lobby.thread.is_alive()
    assert not entrance.thread.is_alive()  # the old one stopped and let go of its state lock


def test_a_bad_camera_is_reported_and_the_others_run(site: Site):
    assert site.running("lobby")
    (site.root / "cameras" / "broken.yaml").write_text("source: {uri: /no/such/video.mp4}\n")
    (site.root / "cameras" / "Not An Id.yaml").write_text("source: {uri: 0}\n")
    assert wait_for(lambda: "broken" in site.service.cameras
                    and site.service.cameras["broken"].status == "failed")
    assert "no/such/video.mp4" in site.service.cameras["broken"].error
    # the two files were written apart, so a scan may have seen only the first
    assert wait_for(lambda: any("Not An Id" in p for p in site.service.problems))
    # an edited file that does not validate leaves the camera running as it was
    lobby = site.service.cameras["lobby"]
    (site.root / "cameras" / "lobby.yaml").write_text("source: {uri: ''}\n")
    time.sleep(2.5)
    assert site.service.cameras["lobby"] is lobby and lobby.thread.is_alive()
    assert lobby.state.config.device.name == "Lobby"
    before = frames(site, "lobby")
    assert wait_for(lambda: frames(site, "lobby") > before)


def test_a_service_that_stops_leaves_no_camera_running(site: Site):
    assert site.running("lobby", "entrance")
    service: FleetService = site.service
    began = time.monotonic()
    service.stop()
    assert time.monotonic() - began < 10
    assert not any(c.thread.is_alive() for c in service.cameras.values())
    assert not (site.root / "state" / "lobby" / "lock").exists() or _unlocked(site)


def _unlocked(site: Site) -> bool:
    from occusense.files import StateLock

    lock = StateLock(site.root / "state" / "lobby").acquire()  # free again
    lock.release()
    return True


def test_cameras_past_the_limit_are_listed_as_problems(tmp_path, monkeypatch):
    from occusense.fleet import service as fleet_service
    from tests.fleet.conftest import start_site

    monkeypatch.setattr(fleet_service, "MAX_CAMERAS", 2)
    root = tmp_path / "site"
    for camera in ("a", "b", "c"):
        write_camera(root, camera)
    site, follower = start_site(root, web=False)
    try:
        assert sorted(site.service.cameras) == ["a", "b"]
        assert any("c.yaml: more than 2 cameras" in p for p in site.service.problems)
    finally:
        site.service.stop()
        follower.join(timeout=10)


def test_a_blur_sites_cameras_start_blurred_without_the_web_gui(tmp_path):
    from occusense.web.account import SiteAccount
    from tests.fleet.conftest import start_site

    root = tmp_path / "site"
    write_camera(root, "lobby", privacy_mode="normal")
    account = SiteAccount(root / "state" / "site" / "account.yaml", lambda mode: None)
    account.save({"activated": True, "password_hash": "x"}, "activation", "blur")
    site, follower = start_site(root, web=False)
    try:
        camera = site.service.cameras["lobby"]
        assert camera.state.config.privacy_mode.value == "blur"  # from its first frame
        assert site.running("lobby")
    finally:
        site.service.stop()
        follower.join(timeout=10)


def test_a_camera_that_crashed_is_started_again(tmp_path, monkeypatch):
    from occusense.fleet import service as fleet_service
    from occusense.runner import SensorRunner
    from tests.fleet.conftest import start_site

    crashes = []

    class CrashingOnce(SensorRunner):
        def run(self, *args, **kwargs):
            if not crashes:
                crashes.append(1)
                raise RuntimeError("the decoder fell over")
            return super().run(*args, **kwargs)

    monkeypatch.setattr(fleet_service, "SensorRunner", CrashingOnce)
    monkeypatch.setattr(fleet_service, "RETRY_S", 0.0)
    root = tmp_path / "site"
    write_camera(root, "lobby")
    site, follower = start_site(root, web=False)
    try:
        # the retry takes the camera's state folder back from the crashed run
        assert site.running("lobby", timeout=30), site.service.cameras["lobby"].error
        assert crashes and site.service.cameras["lobby"].error == ""
    finally:
        site.service.stop()
        follower.join(timeout=10)
