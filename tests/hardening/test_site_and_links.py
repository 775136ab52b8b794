"""Issue 24 (2, 10, 12): a site camera's privacy mode holds against its file
and the API, a camera that failed on a setting comes back when the setting
is corrected over the API, reserved camera ids are refused; a configuration
change keeps the broker connection and the delivery counters."""

from __future__ import annotations

import threading
import time

import httpx
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from occusense.config import load_config
from occusense.errors import ConfigError
from occusense.fleet.site import check_id
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.state import SensorState
from tests.conftest import REPO, SAMPLE_VIDEO
from tests.fleet.conftest import Site, camera_document, site, write_camera  # noqa: F401
from tests.transports.conftest import broker, ca, wait_for  # noqa: F401 - fixtures
from tests.web.conftest import PASSWORD


@pytest.mark.parametrize("camera", ["site", "removed"])
def test_the_site_folders_own_names_are_no_camera_ids(camera):
    with pytest.raises(ConfigError, match="the site's own folder name"):
        check_id(camera)


def login(running: Site) -> dict[str, str]:
    from occusense.web.auth import hash_secret

    assert running.web is not None
    running.web.account.save({"activated": True, "password_hash": hash_secret(PASSWORD)},
                             "test", "normal")
    token = httpx.post(f"{running.url}/api/token", data={"password": PASSWORD},
                       timeout=30).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_camera_failed_on_a_setting_runs_again_once_it_is_corrected(site: Site):  # noqa: F811
    headers = login(site)
    assert site.running("lobby")
    bad = camera_document(detector={"model": "/etc/hostname"})
    (site.root / "cameras" / "yard.yaml").write_text(yaml.safe_dump(bad))
    assert wait_for(lambda: "yard" in site.service.cameras
                    and site.service.cameras["yard"].status == "failed", timeout=30)
    def corrected() -> bool:  # its API is mounted a moment after its status is set
        answer = httpx.put(f"{site.url}/api/cameras/yard/config/detector",
                           json={"model": ""}, headers=headers, timeout=30)
        assert answer.status_code in (200, 404), answer.text
        return answer.status_code == 200

    assert wait_for(corrected, timeout=30)
    assert site.running("yard", timeout=20)  # well before the minute's retry
    assert site.service.cameras["yard"].status == "running"


def test_a_site_cameras_privacy_mode_holds_against_its_file_and_the_api(site: Site):  # noqa: F811
    headers = login(site)
    assert site.running("lobby")
    blurred = camera_document(name="Lobby", privacy_mode="blur")
    (site.root / "cameras" / "lobby.yaml").write_text(yaml.safe_dump(blurred))
    assert wait_for(lambda: site.service.cameras["lobby"].state.config.privacy_mode.value
                    == "blur", timeout=30)
    answer = httpx.put(f"{site.url}/api/cameras/lobby/config/privacy_mode", json="normal",
                       headers=headers, timeout=30)
    assert answer.status_code == 422 and "factory reset" in answer.text
    replaced = httpx.put(f"{site.url}/api/cameras/lobby", json=camera_document(name="Lobby"),
                         headers=headers, timeout=30)
    assert replaced.status_code == 422 and "factory reset" in replaced.text
    (site.root / "cameras" / "lobby.yaml").write_text(yaml.safe_dump(camera_document("Lobby")))
    time.sleep(5)  # two looks at the folder
    assert site.service.cameras["lobby"].state.config.privacy_mode.value == "blur"


class Listener:
    """Every message on one topic, in order."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[str] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="listener")
        ready = threading.Event()
        self.client.on_connect = lambda c, *_: (c.subscribe(topic, 1), ready.set())
        self.client.on_message = lambda c, u, m: self.messages.append(m.payload.decode())
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10)
        time.sleep(0.3)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_configuration_change_keeps_the_connection_and_the_counters(tmp_path,
                                                                       broker):  # noqa: F811
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.output.jsonl_path = ""
    report = config.line_crossing.report
    report.protocol = "mqtt"
    report.mqtt.host, report.mqtt.port, report.mqtt.qos = "127.0.0.1", broker.port, 1
    state = SensorState(config)
    listener = Listener(broker.port, "occusense/reports/status")
    runner = SensorRunner(state, open_source(str(SAMPLE_VIDEO), realtime=True), 0.0, [])
    seen: dict[str, int] = {}

    def on_frame(frame) -> None:
        if frame.index == 150:
            seen["before"] = sum(r["delivered"] for r in state.transport_status)
            seen["connections"] = id(runner.mqtt._connections)
            state.edit("region_counting", {"debounce_s": 1.0})
        if frame.index == 149:
            seen["connection"] = id(next(iter(runner.mqtt._connections.values())))

    thread = threading.Thread(target=runner.run, args=(300, on_frame), daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    delivered = sum(r["delivered"] for r in state.transport_status)
    assert seen["before"] > 0
    assert delivered > seen["before"]  # counted on, not from zero
    assert wait_for(lambda: listener.messages[-1:] == ["offline"], timeout=10)
    # one connection all along: one "online" when it connected, "offline" at the stop
    assert listener.messages == ["online", "offline"], listener.messages
    listener.close()
