"""Digital I/O: software pins shared with the CLI, GPIO through libgpiod's API,
and the overcrowding alarm driving DO on real footage."""

from __future__ import annotations

import itertools
import subprocess
import sys
import types
from pathlib import Path

import pytest

from occusense.config import parse_config
from occusense.dio import EdgeDetector, GpioPins, SoftwarePins
from occusense.errors import OccusenseError
from occusense.pipeline import Pipeline, run_source
from occusense.sources import open_source

CLI = [sys.executable, "-m", "occusense.cli", "io"]


def test_cli_and_sensor_share_software_pins(tmp_path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    pins = SoftwarePins(tmp_path / "state")
    assert pins.read("di") == 0
    subprocess.run(
        [*CLI, "set", "di", "1", "--config", str(config)], check=True, capture_output=True
    )
    assert pins.read("di") == 1
    pins.write("do", 1)
    out = subprocess.run(
        [*CLI, "get", "do", "--config", str(config)], check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == "1"


@pytest.mark.parametrize(
    ("pin", "value", "message"), [("dx", 1, "unknown pin"), ("do", 2, "0 or 1")]
)
def test_bad_pin_writes_are_refused(tmp_path, pin, value, message) -> None:
    with pytest.raises(OccusenseError, match=message):
        SoftwarePins(tmp_path).write(pin, value)


def test_corrupt_pin_file_keeps_last_values(tmp_path) -> None:
    pins = SoftwarePins(tmp_path)
    pins.write("di", 1)
    (tmp_path / "dio.json").write_text("{not json")
    assert pins.read("di") == 1


def test_rising_edges() -> None:
    edges = EdgeDetector()
    assert [edges.rising(v) for v in (0, 1, 1, 0, 1)] == [False, True, False, False, True]


class FakeRequest:
    def __init__(self) -> None:
        self.values: dict[int, str] = {}

    def get_value(self, line: int) -> str:
        return self.values.get(line, "INACTIVE")

    def set_value(self, line: int, value: str) -> None:
        self.values[line] = value


def fake_gpiod(requests: list) -> types.SimpleNamespace:
    """Stands in for libgpiod: there is no GPIO chip on a CI machine."""
    line = types.SimpleNamespace(
        Direction=types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT"),
        Value=types.SimpleNamespace(ACTIVE="ACTIVE", INACTIVE="INACTIVE"),
    )

    def request_lines(chip, consumer, config):
        request = FakeRequest()
        requests.append((chip, consumer, {k: v.direction for k, v in config.items()}, request))
        return request

    return types.SimpleNamespace(
        line=line,
        LineSettings=lambda direction: types.SimpleNamespace(direction=direction),
        request_lines=request_lines,
    )


def test_gpio_pins_use_the_configured_lines() -> None:
    requests: list = []
    pins = GpioPins("/dev/gpiochip3", di_line=5, do_line=6, gpiod=fake_gpiod(requests))
    chip, consumer, directions, request = requests[0]
    assert (chip, consumer, directions) == (
        "/dev/gpiochip3",
        "occusense",
        {5: "INPUT", 6: "OUTPUT"},
    )
    pins.write("do", 1)
    assert request.values[6] == "ACTIVE" and pins.read("do") == 1
    request.values[5] = "ACTIVE"
    assert pins.read("di") == 1
    with pytest.raises(OccusenseError, match="DI is an input"):
        pins.write("di", 1)


class RecordingPins(SoftwarePins):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.history: list[tuple[str, int]] = []

    def write(self, pin: str, value: int) -> None:
        super().write(pin, value)
        self.history.append((pin, value))


def test_overcrowding_alarm_drives_do_on_real_footage(tmp_path, sample_video) -> None:
    config = parse_config(
        {
            "region_counting": {
                "overcrowding": {"enabled": True, "trigger": "total_number", "threshold": 5},
                "report": {"interval_s": 5},
            }
        }
    )
    source = open_source(str(sample_video), start_ts=0.0)
    pins = RecordingPins(tmp_path)
    totals: list[int] = []

    class Collect:
        def send(self, report) -> None:
            """Reports are not the point here."""

        def close(self) -> None:
            """Nothing to release."""

    pipeline = Pipeline(
        config, source.width, source.height, source.fps, 0.0, [Collect()], pins=pins
    )
    run_source(
        pipeline, source, max_frames=150, on_frame=lambda f, r: totals.append(r.region.total)
    )
    assert max(totals) > 5 and min(totals) <= 5  # the scene goes over and under
    values = [v for _, v in pins.history]
    assert values[:2] in ([0, 1], [1, 0])  # the first frame sets DO to a known state
    assert all(a != b for a, b in itertools.pairwise(values))  # changes only
    assert 1 in values
    assert pins.read("do") == int(totals[-1] > 5)
