"""Issue 26: counts that survive a restart, kill -9 included (at most a
second lost), resets that fell due while stopped, and corrupt files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from occusense.analytics.engine import Analytics
from occusense.config import load_config, parse_config
from occusense.persist import CountFile, restore, snapshot
from occusense.track import TrackedPeople
from tests.conftest import REPO, SAMPLE_VIDEO

LINE = {"enabled": True, "line": {"points": [[0.52, 0.17], [0.52, 0.87]]},
        "report": {"interval_s": 5, "trigger_enabled": True}}


def sensor_config(tmp_path: Path, jsonl: Path) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "state_dir": str(tmp_path / "state"), "output": {"jsonl_path": str(jsonl)},
        "line_crossing": LINE, "detector": {"scene": "walkway"}}))
    return path


def reports(jsonl: Path) -> list[dict]:
    if not jsonl.exists():
        return []
    return [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]


def test_a_kill_9_loses_at_most_a_second_of_counts_and_a_restart_goes_on(tmp_path):
    jsonl = tmp_path / "reports.jsonl"
    config = sensor_config(tmp_path, jsonl)
    command = [sys.executable, "-m", "occusense.cli", "run", "--config", str(config),
               "--source", str(SAMPLE_VIDEO), "--no-web", "--quiet"]
    sensor = subprocess.Popen([*command, "--realtime"], cwd=REPO, stderr=subprocess.DEVNULL)
    arrivals: list[float] = []  # when each crossing's trigger report arrived
    seen = 0
    try:
        deadline = time.monotonic() + 120
        while len(arrivals) < 8:
            assert time.monotonic() < deadline and sensor.poll() is None
            found = [r for r in reports(jsonl) if r.get("report_type") == "trigger"]
            arrivals += [time.monotonic()] * (len(found) - seen)
            seen = len(found)
            time.sleep(0.05)
        killed_at = time.monotonic()
        sensor.send_signal(signal.SIGKILL)
        sensor.wait(timeout=10)
    finally:
        sensor.kill()
    saved = json.loads((tmp_path / "state" / "counts.json").read_text())
    kept = sum(saved["line"]["cumulative"])
    older = sum(1 for t in arrivals if t < killed_at - 1.5)
    assert older <= kept <= len(arrivals) + 1  # at most the last second is lost
    # the next start goes on from there: its first interval report carries them
    jsonl.unlink()
    again = subprocess.run([*command, "--max-frames", "80"], cwd=REPO, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "counts restored" in again.stderr
    interval = next(r for r in reports(jsonl) if r.get("report_type") == "interval"
                    and r.get("event") == "Line Crossing Counting")
    data = interval["line_periodic_data"] if "line_periodic_data" in interval else interval
    text = json.dumps(data)
    cumulative_in = int(text.split('"in_cumulative_counted": ')[1].split(",")[0])
    assert cumulative_in >= saved["line"]["cumulative"][0]


def analytics_for(config) -> Analytics:
    return Analytics(config, 768, 576)


def crossing(analytics: Analytics, start: float, pid: int = 1) -> None:
    """Person ``pid`` walks left to right across the line at x = 0.52."""
    for step, x in enumerate(np.linspace(200, 600, 10)):
        box = np.array([[x - 20, 300, x + 20, 420]], np.float32)
        analytics.update(start + step * 0.1, TrackedPeople(np.array([pid]), box))


def test_the_state_is_restored_onto_the_same_line_only():
    config = parse_config({"line_crossing": LINE})
    first = analytics_for(config)
    crossing(first, 0.0)
    assert first.line.cumulative.inward + first.line.cumulative.outward == 1
    doc = snapshot(first, config)
    second = analytics_for(config)
    assert "line" in restore(second, config, doc)
    assert second.line.cumulative == first.line.cumulative
    moved = parse_config({"line_crossing": LINE | {"line": {"points": [[0.3, 0.1],
                                                                        [0.3, 0.9]]}}})
    third = analytics_for(moved)
    assert "line" not in restore(third, moved, doc)
    assert third.line.cumulative.inward == third.line.cumulative.outward == 0


def test_a_reset_due_while_stopped_is_applied_at_start():
    reset = {"enabled": True, "day": "everyday", "hour": 0, "minute": 0}
    config = parse_config({"line_crossing": LINE | {"reset": reset}})
    first = analytics_for(config)
    day = 1_764_633_600.0  # 2025-12-02 00:00 UTC
    crossing(first, day + 3600)  # 01:00
    doc = snapshot(first, config)
    second = analytics_for(config)
    restore(second, config, doc)
    assert sum([second.line.cumulative.inward, second.line.cumulative.outward]) == 1
    # the sensor comes back the next day at 08:00: midnight's reset has passed
    second.update(day + 86400 + 8 * 3600, TrackedPeople())
    assert second.line.cumulative.inward == second.line.cumulative.outward == 0


def test_a_corrupt_counts_file_is_set_aside_with_one_warning(tmp_path, caplog):
    (tmp_path / "counts.json").write_text("{not json")
    assert CountFile(tmp_path).load() is None
    assert "unreadable" in caplog.text
    assert list(tmp_path.glob("counts.json.corrupt-*"))
    (tmp_path / "counts.json").write_text(json.dumps({"format": 99}))
    assert CountFile(tmp_path).load() is None


def test_a_stop_saves_and_a_restart_restores(tmp_path):
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    counts = CountFile(config.state_dir)
    analytics = analytics_for(config)
    crossing(analytics, 0.0)
    counts.save(analytics, config, force=True)
    again = analytics_for(config)
    assert "line" in restore(again, config, CountFile(config.state_dir).load())
    assert again.line.cumulative == analytics.line.cumulative
