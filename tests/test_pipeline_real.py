"""The whole sensor on real footage: the README's first command, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from occusense.config import load_config, parse_config
from occusense.pipeline import Pipeline, run_source
from occusense.sources import open_source
from tests.conftest import REPO, check_shapes

CLI = [sys.executable, "-m", "occusense.cli"]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, sample_video) -> tuple[subprocess.CompletedProcess, Path]:
    folder = tmp_path_factory.mktemp("run")
    out = folder / "reports.jsonl"
    # the example with a state folder of its own: counts kept by an earlier run
    # in the checkout's .occusense must not carry into this one
    config = yaml.safe_load((REPO / "examples" / "vtest.yaml").read_text())
    config["state_dir"] = str(folder / "state")
    (folder / "vtest.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [
            *CLI,
            "run",
            "--config",
            str(folder / "vtest.yaml"),
            "--max-frames",
            "200",
            "--no-web",
            "--out",
            str(out),
            "--start-time",
            "2026-11-23T09:00:00+00:00",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result, out


def test_sample_run_prints_valid_reports_of_every_feature(sample_run) -> None:
    result, out = sample_run
    assert result.returncode == 0, result.stderr
    console = [json.loads(line) for line in result.stdout.splitlines()]
    saved = [json.loads(line) for line in out.read_text().splitlines()]
    assert console == saved
    events = {(r["event"], r["report_type"]) for r in saved}
    assert ("Region People Counting", "interval") in events
    assert ("Line Crossing Counting", "interval") in events
    assert ("People Flow Analysis", "interval") in events
    checked = check_shapes(out)
    assert checked.returncode == 0, checked.stdout


def test_sample_run_counts_people_and_crossings(sample_run) -> None:
    _, out = sample_run
    reports = [json.loads(line) for line in out.read_text().splitlines()]
    regions = [
        r
        for r in reports
        if r["event"] == "Region People Counting" and r["report_type"] == "interval"
    ]
    # 200 frames at 10 fps with 5 s intervals: reports end at 5, 10, 15 s
    assert [r["time_info"]["end_time"] for r in regions[:3]] == [
        "2026/11/23 09:00:05",
        "2026/11/23 09:00:10",
        "2026/11/23 09:00:15",
    ]
    assert max(r["max_counted"] for r in regions) >= 2  # the walkway is never empty
    triggers = [
        r
        for r in reports
        if r["event"] == "Line Crossing Counting" and r["report_type"] == "trigger"
    ]
    last = [
        r
        for r in reports
        if r["event"] == "Line Crossing Counting" and r["report_type"] == "interval"
    ][-1]
    assert (
        last["total_data"]["in_cumulative_counted"] + last["total_data"]["out_cumulative_counted"]
        >= 1
    )
    assert (
        len(triggers)
        >= last["total_data"]["in_cumulative_counted"]
        + last["total_data"]["out_cumulative_counted"]
    )


def test_privacy_mask_over_everything_counts_no_one(sample_video) -> None:
    cfg = parse_config(
        {
            "privacy_masks": {
                "enabled": True,
                "masks": [{"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
            },
            "region_counting": {"report": {"interval_s": 5}},
        }
    )
    source = open_source(str(sample_video), start_ts=0.0)
    sent = []

    class Collect:
        def send(self, report) -> None:
            sent.append(report.body)

        def close(self) -> None:
            """Nothing to release."""

    pipeline = Pipeline(cfg, source.width, source.height, source.fps, 0.0, [Collect()])
    run_source(pipeline, source, max_frames=60)
    regions = [b for b in sent if b["event"] == "Region People Counting"]
    assert regions and all(b["current_total"] == 0 and b["max_counted"] == 0 for b in regions)


def test_partial_mask_hides_the_pixels(sample_video) -> None:
    cfg = parse_config(
        {
            "privacy_masks": {
                "enabled": True,
                "colour": "white",
                "masks": [{"points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
            }
        }
    )
    source = open_source(str(sample_video), start_ts=0.0)
    frame = next(source.frames())
    source.close()
    pipeline = Pipeline(cfg, source.width, source.height, source.fps, 0.0)
    painted = pipeline.finder.masks.paint(frame.image)
    assert (painted[:, :380] == 255).all() and not (painted[:, 400:] == 255).all()


def test_config_validate_names_the_field(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("region_counting:\n  report:\n    interval_s: 3\n")
    result = subprocess.run(
        [*CLI, "config", "validate", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "region_counting.report.interval_s" in result.stderr


def test_config_defaults_round_trip(tmp_path) -> None:
    result = subprocess.run(
        [*CLI, "config", "defaults"], capture_output=True, text=True, check=True
    )
    path = tmp_path / "defaults.yaml"
    path.write_text(result.stdout)
    assert load_config(path).region_counting.report.interval_s == 300


def test_bad_source_exits_with_a_message() -> None:
    result = subprocess.run(
        [*CLI, "run", "--source", "/nope/video.mp4", "--no-web"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "neither a file" in result.stderr
