"""Issue 4: detection on a remote KServe v2 / Triton server, over real HTTP(S)
to a real server running the same model, gives the same people as locally."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import trustme

from occusense.config import parse_config
from occusense.config.device import RecognitionScheme
from occusense.detect.presets import make_detector
from occusense.errors import ConfigError
from occusense.pipeline import Pipeline, run_source
from occusense.sources import open_source
from tests.detect.kserve_server import KServeServer


@pytest.fixture(scope="module")
def frames(sample_video) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(sample_video))
    out = []
    for index in range(60):
        ok, frame = capture.read()
        assert ok
        if index % 20 == 0:
            out.append(frame)
    return out


def detector_for(**detector):
    config = parse_config({"detector": detector})
    return make_detector(config.detector, RecognitionScheme.algorithm_2, threads=1)


@pytest.mark.parametrize(
    ("binary", "input_", "per_frame"),
    [(True, "whole", 1), (True, "tiles", 2), (False, "whole", 1)],
    ids=["binary", "binary-tiles", "json"],
)
def test_remote_detections_equal_local_ones(frames, binary: bool, input_: str, per_frame: int):
    server = KServeServer()
    try:
        remote = detector_for(remote_url=server.url, remote_binary=binary, input=input_)
        local = detector_for(input=input_)
        for frame in frames:
            near, far = local.detect(frame), remote.detect(frame)
            assert len(near) >= 1 and len(near) == len(far)
            np.testing.assert_allclose(far.boxes, near.boxes, atol=1e-3)
            np.testing.assert_allclose(far.scores, near.scores, atol=1e-5)
        # one inference per frame (2 with tiles on 4:3 frames), one probe at start
        assert server.requests == per_frame * len(frames) + 1
        assert (server.binary_requests > 0) is binary
    finally:
        server.stop()


def test_https_is_verified_against_the_given_ca(frames, tmp_path) -> None:
    ca = trustme.CA()
    server = KServeServer(tls=ca)
    try:
        with pytest.raises(ConfigError, match="CERTIFICATE_VERIFY_FAILED"):
            detector_for(remote_url=server.url)  # not a CA the system trusts
        bundle = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        remote = detector_for(remote_url=server.url, remote_ca_file=str(bundle))
        assert len(remote.detect(frames[0])) >= 1
    finally:
        server.stop()


def test_an_unreachable_server_is_a_clear_error_and_a_failing_one_is_survived(frames) -> None:
    server = KServeServer()
    url = server.url
    remote = detector_for(remote_url=url)
    server.failing = True
    assert len(remote.detect(frames[0])) == 0  # no people this frame, logged, counted
    assert remote.failures == 1
    server.failing = False
    assert len(remote.detect(frames[0])) >= 1  # and back
    server.stop()
    with pytest.raises(ConfigError, match="inference server"):
        detector_for(remote_url=url)
    with pytest.raises(ConfigError, match="http:// or https://"):
        detector_for(remote_url="grpc://host:8001")


def test_run_with_a_remote_detector(sample_video) -> None:
    server = KServeServer()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "occusense.cli", "run", "--source", str(sample_video),
             "--max-frames", "12", "--no-web", "--quiet", "--detector", server.url],
            capture_output=True, text=True, timeout=300, check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        # every detected frame (every 2nd: the defaults) went to the server, after a probe
        assert server.requests >= 12 // 2 + 1
    finally:
        server.stop()


def test_a_finished_pipeline_closes_the_remote_connections_it_opened(sample_video) -> None:
    """A configuration change rebuilds the pipeline: the old one's client to
    the inference server is closed, a detector handed in by the caller is not."""
    server = KServeServer()
    try:
        config = parse_config({"detector": {"remote_url": server.url}})
        source = open_source(str(sample_video))
        pipeline = Pipeline(config, source.width, source.height, source.fps, 0.0, [])
        assert run_source(pipeline, source, max_frames=4) == 4
        assert pipeline.finder.detector.engine._client.is_closed

        shared = detector_for(remote_url=server.url)
        source = open_source(str(sample_video))
        pipeline = Pipeline(
            config, source.width, source.height, source.fps, 0.0, [], detector=shared
        )
        run_source(pipeline, source, max_frames=2)
        assert not shared.engine._client.is_closed
        shared.close()
        assert shared.engine._client.is_closed
    finally:
        server.stop()
