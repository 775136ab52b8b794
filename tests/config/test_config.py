from __future__ import annotations

import json
from datetime import datetime

import pytest
import yaml

from occusense.config import DeviceConfig, config_to_dict, load_config, parse_config, save_config
from occusense.config.schedule import Period, Schedule
from occusense.errors import ConfigError

SQUARE = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]


def test_defaults_follow_the_guide() -> None:
    cfg = DeviceConfig()
    assert cfg.region_counting.report.interval_s == 300
    assert cfg.region_counting.debounce_s == 2.0
    assert cfg.general.recognition_scheme.value == "algorithm_2"
    assert cfg.lorawan.app_eui == "24E124C0002A0001"
    assert cfg.lorawan.application_port == 85
    assert cfg.people_flow.edge_names == ["A", "B", "C", "D"]
    assert cfg.line_crossing.staff_window_s == 8.0


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        (
            {"region_counting": {"regions": [{"points": [[0, 0], [1, 1]]}]}},
            "region_counting.regions.0.points",
            "at least 3 points",
        ),
        (
            {"region_counting": {"regions": [{"points": SQUARE}] * 17}},
            "region_counting.regions",
            "at most 16 regions",
        ),
        (
            {"line_crossing": {"report": {"interval_s": 3}}},
            "line_crossing.report.interval_s",
            "greater than or equal to 5",
        ),
        (
            {"line_crossing": {"report": {"interval_s": 86401}}},
            "line_crossing.report.interval_s",
            "less than or equal to 86400",
        ),
        (
            {
                "line_crossing": {
                    "line": {"points": [[0, 0], [0.1, 0], [0.2, 0], [0.3, 0], [0.4, 0], [0.5, 0]]}
                }
            },
            "line_crossing.line.points",
            "at most 4 segments",
        ),
        ({"line_crossing": {"enabled": True}}, "line_crossing", "no line is drawn"),
        (
            {"people_flow": {"area": [[0, 0], [1, 0], [0.2, 0.2], [0, 1]]}},
            "people_flow.area",
            "must be convex",
        ),
        (
            {"people_flow": {"area": [[0, 0], [1, 0], [1, 1], [0.5, 1], [0, 0.9]]}},
            "people_flow.area",
            "triangle or a quadrangle",
        ),
        (
            {"region_counting": {"regions": [{"points": [[0, 0], [1, 0.8], [1, 0], [0, 1]]}]}},
            "region_counting.regions.0.points",
            "crosses itself",
        ),
        (
            {"privacy_masks": {"masks": [{"points": SQUARE}] * 9}},
            "privacy_masks.masks",
            "at most 8",
        ),
        ({"time": {"timezone": "Mars/Olympus"}}, "time.timezone", "unknown time zone"),
        (
            {"region_counting": {"regions": [{"points": [[0, 0], [1.5, 0], [1, 1]]}]}},
            "region_counting.regions.0.points.1.0",
            "less than or equal to 1",
        ),
        ({"lorawan": {"dev_eui": "XYZ"}}, "lorawan.dev_eui", "16 hexadecimal"),
        (
            {
                "region_counting": {
                    "schedule": {"monday": {"periods": [{"start": "10:00", "end": "09:00"}]}}
                }
            },
            "region_counting.schedule.monday.periods.0",
            "before it starts",
        ),
        ({"region_counting": {"nonsense": 1}}, "region_counting.nonsense", "Extra inputs"),
    ],
)
def test_invalid_config_names_field_and_rule(data: dict, field: str, rule: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    message = str(info.value)
    line = next((ln for ln in message.splitlines() if ln.strip().startswith(field + ":")), "")
    assert line, message
    assert rule in line


def test_malformed_yaml_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("region_counting: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_then_load_round_trips(tmp_path, suffix) -> None:
    cfg = parse_config(
        {
            "region_counting": {"customize_area": True, "regions": [{"points": SQUARE}]},
            "line_crossing": {"enabled": True, "line": {"points": [[0, 0.5], [1, 0.5]]}},
            "users": {"password_hash": "$argon2id$fake"},
            "lorawan": {"app_key": "00112233445566778899AABBCCDDEEFF"},
        }
    )
    path = tmp_path / f"device{suffix}"
    save_config(cfg, path)
    again = load_config(path)
    assert again == cfg
    assert again.lorawan.app_key.get_secret_value() == "00112233445566778899AABBCCDDEEFF"


def test_an_export_without_secrets_is_refused_as_a_config_file(tmp_path) -> None:
    """Its placeholders would become the keys; the error names each field."""
    import yaml

    key = "00112233445566778899AABBCCDDEEFF"
    cfg = parse_config({"lorawan": {"app_key": key}})
    path = tmp_path / "export.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(cfg)))
    with pytest.raises(ConfigError, match=r"lorawan\.app_key.*placeholder") as caught:
        load_config(path)
    assert "d2d.key" in str(caught.value)
    path.write_text(yaml.safe_dump(config_to_dict(cfg, include_secrets=True)))
    assert load_config(path).lorawan.app_key.get_secret_value() == key


def test_export_leaves_out_password_hash_and_secrets_unless_asked() -> None:
    cfg = parse_config(
        {
            "users": {
                "password_hash": "$argon2id$secret",
                "security_questions": [{"question": "q", "answer_hash": "h"}],
            }
        }
    )
    plain = json.dumps(config_to_dict(cfg))
    assert "$argon2id$secret" not in plain and '"answer_hash"' not in plain
    assert "5572404C696E6B4C6F52613230313823" not in plain
    full = json.dumps(config_to_dict(cfg, include_secrets=True))
    assert "$argon2id$secret" in full and "5572404C696E6B4C6F52613230313823" in full


@pytest.mark.parametrize("name", ["vtest.yaml", "office.yaml"])
def test_example_configs_are_valid(name) -> None:
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[2] / "examples" / name)
    assert len(cfg.region_counting.regions) == 2 and cfg.line_crossing.enabled


def test_default_dump_reloads() -> None:
    text = yaml.safe_dump(config_to_dict(DeviceConfig()))
    assert parse_config(yaml.safe_load(text)).region_counting.debounce_s == 2.0


@pytest.mark.parametrize(
    ("when", "active"),
    [
        (datetime(2026, 11, 23, 9, 30), True),  # Monday inside 09:00-12:00
        (datetime(2026, 11, 23, 12, 0), False),  # end is exclusive
        (datetime(2026, 11, 23, 13, 0), False),
        (datetime(2026, 11, 24, 9, 30), True),  # Tuesday after copy to other days
    ],
)
def test_schedule_periods_and_copy_to_other_days(when, active) -> None:
    week = Schedule()
    week.monday.periods = [Period(start="09:00", end="12:00"), Period(), Period()]
    assert week.copy_day_to_others("monday").is_active(when) is active


def test_default_schedule_is_always_on() -> None:
    assert Schedule().is_active(datetime(2026, 1, 4, 23, 59))
