"""Issue 24 (1, 2, 11, 12): no setting the API accepts kills the sensor, the
privacy mode holds, written files stay in the state directory, and no
control characters or empty names get into the configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from occusense.config import parse_config
from occusense.errors import ConfigError
from tests.conftest import REPO
from tests.web.test_api import bearer, wait_for_frames


@pytest.mark.parametrize("bad", [
    {"providers": "BogusProvider"},
    {"model": "/etc/hostname"},
    {"model": "/nonexistent.onnx"},
    {"remote_url": "http://127.0.0.1:9/v2/models/nanodet", "remote_timeout_s": 1},
])
def test_a_detector_that_cannot_start_is_refused_and_the_sensor_runs_on(plain_sensor, bad):
    state, base = plain_sensor
    with httpx.Client(timeout=30) as client:
        auth = bearer(client, state, base)
        wait_for_frames(client, base, auth, 5)
        before = state.config.detector
        answer = client.put(f"{base}/api/config/detector", json=bad, headers=auth)
        assert answer.status_code == 422, answer.text
        assert "detector" in answer.json()["detail"]
        assert "the running detector stays" in answer.json()["detail"]
        assert state.config.detector == before
        saved = Path(state.path).read_text() if Path(state.path).exists() else ""
        assert str(next(iter(bad.values()))) not in saved
        frame = client.get(f"{base}/api/status", headers=auth).json()["frame"]
        wait_for_frames(client, base, auth, frame + 5)  # still counting


def test_a_saved_configuration_that_cannot_start_falls_back_to_the_last_good_one(
        tmp_path, sample_video):
    state_dir = tmp_path / "state"
    seed = tmp_path / "c.yaml"
    seed.write_text(yaml.safe_dump({"state_dir": str(state_dir),
                                    "output": {"jsonl_path": ""}}))
    command = [sys.executable, "-m", "occusense.cli", "run", "--config", str(seed),
               "--source", str(sample_video), "--no-web", "--quiet", "--max-frames", "5"]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert (state_dir / "config.good.yaml").is_file()
    # an older version saved a value that cannot start
    running = yaml.safe_load((state_dir / "config.yaml").read_text())
    running["detector"]["model"] = "/etc/hostname"
    (state_dir / "config.yaml").write_text(yaml.safe_dump(running))
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "running the last one that did" in second.stderr
    assert "done: 5 frames" in second.stderr
    assert "/etc/hostname" not in (state_dir / "config.yaml").read_text()


def test_the_privacy_mode_cannot_go_back_to_normal(plain_sensor):
    state, base = plain_sensor
    with httpx.Client(timeout=30) as client:
        auth = bearer(client, state, base)
        state.config.privacy_mode = "blur"
        answer = client.put(f"{base}/api/config/privacy_mode", json="normal", headers=auth)
        assert answer.status_code == 422
        assert "only a factory reset changes it" in answer.json()["detail"]
        assert state.config.privacy_mode.value == "blur"
        exported = client.get(f"{base}/api/export", headers=auth).text
        exported = exported.replace("privacy_mode: blur", "privacy_mode: normal")
        client.post(f"{base}/api/import", files={"file": ("c.yaml", exported)}, headers=auth)
        assert state.config.privacy_mode.value == "blur"


def test_the_api_cannot_place_written_files_outside_the_state_directory(plain_sensor):
    state, base = plain_sensor
    with httpx.Client(timeout=30) as client:
        auth = bearer(client, state, base)
        for body in ({"jsonl_path": "/proc/version"}, {"jsonl_path": "../../outside.jsonl"}):
            answer = client.put(f"{base}/api/config/output", json=body, headers=auth)
            assert answer.status_code == 422, answer.text
            assert "outside the state directory" in answer.json()["detail"]
        inside = str(Path(state.config.state_dir) / "reports.jsonl")
        answer = client.put(f"{base}/api/config/output", json={"jsonl_path": inside},
                            headers=auth)
        assert answer.status_code == 200
        answer = client.put(f"{base}/api/config/state_dir", json="/tmp/elsewhere", headers=auth)
        assert answer.status_code == 422
        assert "state_dir" in answer.json()["detail"]


@pytest.mark.parametrize(("section", "values"), [
    ("d2d", {"udp_host": "10.0.0.1\x00evil"}),
    ("device", {"hardware_version": "V1\x00"}),
    ("device", {"name": "Lobby\x07"}),
])
def test_control_characters_are_refused(section, values):
    with pytest.raises(ConfigError, match="control character"):
        parse_config({section: values})


def test_an_empty_region_name_is_refused_and_a_missing_one_is_numbered():
    square = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]
    with pytest.raises(ConfigError, match="name"):
        parse_config({"region_counting": {"regions": [{"name": "  ", "points": square}]}})
    config = parse_config({"region_counting": {"regions": [{"points": square},
                                                           {"name": "desk", "points": square}]}})
    assert [r.name for r in config.region_counting.regions] == ["region 1", "desk"]
