"""The placement rule of the accuracy suite."""

from __future__ import annotations

import subprocess
import sys

from occusense.evaluation.suite import placements


def test_placements_follow_the_rule() -> None:
    lines, regions = placements(600, 300)
    assert [label for label, _ in lines] == [
        "x=100",
        "x=200",
        "x=300",
        "x=400",
        "x=500",
        "y=50",
        "y=100",
        "y=150",
        "y=200",
        "y=250",
    ]
    assert lines[0][1] == [(100.0, 0.0), (100.0, 300.0)]
    assert len(regions) == 6 and regions[0] == [
        (0.0, 0.0),
        (200.0, 0.0),
        (200.0, 150.0),
        (0.0, 150.0),
    ]


def test_suite_without_data_is_a_clear_error(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "occusense.cli", "eval", "--suite", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "does not hold the shared sequences" in result.stderr
