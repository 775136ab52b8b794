"""Issue 28 (2): a configuration file edited while the GUI changed the
running copy: the file's changes are merged in, the GUI's kept, a setting
both changed is named (never lost without a word)."""

from __future__ import annotations

import logging

import yaml

from occusense.config import load_config
from occusense.config.merge import changed, three_way
from occusense.config.running import forget_seed_settings, running_config
from occusense.web.state import SensorState
from tests.conftest import REPO


def test_three_way_applies_the_files_changes_and_keeps_the_guis():
    base = {"device": {"name": "a"}, "regions": [[0, 0]], "port": 1}
    theirs = {"device": {"name": "b"}, "regions": [[0, 0]], "port": 2}
    ours = {"device": {"name": "a"}, "regions": [[1, 1]], "port": 3}
    merged = three_way(base, theirs, ours)
    assert merged.data == {"device": {"name": "b"}, "regions": [[1, 1]], "port": 2}
    assert merged.from_file == ["device.name", "port"]
    assert merged.kept == ["regions"]
    assert merged.conflicts == ["port"]  # both changed it: the file's, and said
    assert changed(base, ours) == ["port", "regions"]


def sensor_file(tmp_path, **changes):
    data = yaml.safe_load((REPO / "examples" / "vtest.yaml").read_text())
    data["state_dir"] = str(tmp_path / "state")
    for section, values in changes.items():
        data.setdefault(section, {}).update(values)
    path = tmp_path / "sensor.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start(path):
    return running_config(load_config(path), path)


def test_a_region_renamed_in_the_gui_survives_an_edit_of_the_file(tmp_path, caplog):
    path = sensor_file(tmp_path)
    config, saved_to = start(path)
    state = SensorState(config, saved_to)
    regions = [dict(r) for r in config.model_dump(mode="json")["region_counting"]["regions"]]
    regions[0]["name"] = "reception"
    state.edit("region_counting", {"regions": regions})  # the GUI, saved in the state folder
    path = sensor_file(tmp_path, device={"name": "Front desk"},
                       region_counting={"report": {"interval_s": 60}})  # the installer
    with caplog.at_level(logging.INFO):
        config, _ = start(path)
    assert config.device.name == "Front desk"  # the file's change
    assert config.region_counting.report.interval_s == 60
    assert config.region_counting.regions[0].name == "reception"  # the GUI's, kept
    assert "changed in the GUI kept (region_counting.regions)" in caplog.text


def test_a_setting_both_changed_takes_the_files_value_and_is_named(tmp_path, caplog):
    path = sensor_file(tmp_path)
    config, saved_to = start(path)
    SensorState(config, saved_to).edit("device", {"name": "from the GUI"})
    path = sensor_file(tmp_path, device={"name": "from the file"})
    with caplog.at_level(logging.WARNING):
        config, _ = start(path)
    assert config.device.name == "from the file"
    assert "the GUI both changed device.name: the file's value is used" in caplog.text


def test_the_file_can_be_made_to_replace_every_setting(tmp_path):
    path = sensor_file(tmp_path)
    config, saved_to = start(path)
    SensorState(config, saved_to).edit("device", {"ip_address": "10.0.0.9"})
    forget_seed_settings(config.state_dir)  # "the file replaces everything"
    config, _ = start(sensor_file(tmp_path, device={"name": "new"}))
    assert config.device.name == "new" and config.device.ip_address != "10.0.0.9"
