"""Shared fixtures: paths to the real footage and the shared tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
PETS_GT = SHARED / "data" / "PETS09-S2L1" / "gt" / "gt.txt"
TUD_CAMPUS = SHARED / "data" / "TUD-Campus"
SHAPE_CHECKER = SHARED / "tools" / "check_report_shape.py"


@pytest.fixture(scope="session")
def sample_video() -> Path:
    assert SAMPLE_VIDEO.is_file(), "install Debian's opencv-doc (scripts/install.sh does)"
    return SAMPLE_VIDEO


@pytest.fixture(scope="session")
def motmetrics_data() -> Path:
    import motmetrics

    return Path(motmetrics.__file__).parent / "data"


def check_shapes(jsonl: Path) -> subprocess.CompletedProcess:
    """Run the shared report-shape checker on a JSONL file."""
    return subprocess.run(
        [sys.executable, str(SHAPE_CHECKER), str(jsonl)],
        capture_output=True,
        text=True,
        check=False,
    )
