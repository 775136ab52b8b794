"""Issue 20: the site folder. A camera file is a sensor's configuration; what
cameras of one service must not share gets a per-camera default."""

from __future__ import annotations

import pytest

from occusense.errors import ConfigError
from occusense.fleet.site import SiteFolder, camera_serial
from tests.conftest import SAMPLE_VIDEO
from tests.fleet.conftest import write_camera


def test_cameras_get_their_own_state_identity_and_report_file(tmp_path):
    root = tmp_path / "site"
    write_camera(root, "lobby")
    write_camera(root, "entrance", name="Main entrance")
    folder = SiteFolder(root)
    lobby = folder.camera_config("lobby", root / "cameras" / "lobby.yaml")
    entrance = folder.camera_config("entrance", root / "cameras" / "entrance.yaml")
    assert lobby.state_dir == str(root / "state" / "lobby")
    assert entrance.state_dir == str(root / "state" / "entrance")
    assert lobby.output.jsonl_path == str(root / "state" / "lobby" / "reports.jsonl")
    assert (lobby.device.name, entrance.device.name) == ("lobby", "Main entrance")
    assert lobby.device.serial_number != entrance.device.serial_number
    assert lobby.device.serial_number == camera_serial("lobby")  # stable across restarts
    assert len(lobby.device.serial_number) == 12 and lobby.device.serial_number.isdigit()


def test_what_a_camera_file_says_wins_and_relative_paths_are_the_sites(tmp_path):
    root = tmp_path / "site"
    path = root / "cameras" / "yard.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("state_dir: elsewhere/yard\ndevice: {serial_number: '6666'}\n"
                    "source: {uri: videos/yard.mp4}\noutput: {jsonl_path: ''}\n")
    config = SiteFolder(root).camera_config("yard", path)
    assert config.state_dir == str(root.resolve() / "elsewhere" / "yard")
    assert config.device.serial_number == "6666"
    assert config.source.uri == str(root.resolve() / "videos" / "yard.mp4")
    assert config.output.jsonl_path == ""


@pytest.mark.parametrize(("text", "said"), [
    ("device: {name: x}\n", "a camera needs a source section"),
    ("source: {uri: ''}\n", "source.uri: say which camera"),
    ("source: [\n", "not valid YAML"),
    (f"source: {{uri: {SAMPLE_VIDEO}}}\nregion_counting: {{enabled: maybe}}\n",
     "region_counting.enabled"),
    ("- a list\n", "the top level must be a mapping"),
])
def test_a_bad_camera_file_is_a_clear_error(tmp_path, text, said):
    root = tmp_path / "site"
    path = root / "cameras" / "bad.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(ConfigError, match=said.replace("[", r"\[")):
        SiteFolder(root).camera_config("bad", path)


def test_site_settings_are_checked(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "site.yaml").write_text("pool: {workers: 0}\n")
    with pytest.raises(ConfigError, match=r"pool\.workers"):
        SiteFolder(root).settings()
    (root / "site.yaml").write_text("name: HQ\npool: {max_batch: 4}\nweb: {port: 8090}\n")
    settings = SiteFolder(root).settings()
    assert (settings.name, settings.pool.max_batch, settings.web.port) == ("HQ", 4, 8090)


def test_the_example_site_is_valid():
    from tests.conftest import REPO

    folder = SiteFolder(REPO / "examples" / "site")
    assert folder.settings().name == "Sample site"
    cameras = folder.camera_files()
    assert sorted(cameras) == ["entrance", "lobby"]
    configs = {c: folder.camera_config(c, p) for c, p in cameras.items()}
    assert configs["lobby"].region_counting.customize_area
    assert configs["entrance"].line_crossing.report.protocol.value == "mqtt"


def test_a_missing_site_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no such folder"):
        SiteFolder(tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
