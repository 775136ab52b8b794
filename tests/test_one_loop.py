"""Issue 19: the sensor, the accuracy evaluation and run_source step frames
through one loop (``pipeline.drive``), so what is measured is what runs."""

from __future__ import annotations

import occusense.pipeline as pipeline_module
from occusense.config import load_config
from occusense.evaluation.runner import log_from_source
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.state import SensorState
from tests.conftest import REPO, TUD_CAMPUS


def test_the_sensor_and_the_evaluation_drive_the_same_loop(
    monkeypatch, sample_video, tmp_path
) -> None:
    callers: list[str] = []
    real = pipeline_module.drive

    def counted(pipeline, frames, max_frames=None, on_frame=None, stop=lambda: False):
        callers.append(type(pipeline).__name__)
        return real(pipeline, frames, max_frames, on_frame, stop)

    monkeypatch.setattr(pipeline_module, "drive", counted)
    monkeypatch.setattr("occusense.runner.drive", counted)
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.output.jsonl_path, config.state_dir = "", str(tmp_path / "state")
    log = log_from_source(str(TUD_CAMPUS / "TUD-Campus.mp4"), config)
    assert len(log.steps) == 71 and callers == ["Pipeline"]
    runner = SensorRunner(SensorState(config), open_source(str(sample_video)), 0.0, [])
    assert runner.run(max_frames=20) == 20
    assert callers == ["Pipeline", "Pipeline"]
