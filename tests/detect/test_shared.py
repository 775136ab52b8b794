"""Issue 20: one detector pool for many cameras. Detections through the pool
are the detections of a camera's own detector; concurrent cameras' inputs
are batched when the model splits back, and run one by one when it does not."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from occusense.config import DeviceConfig
from occusense.detect import shared
from occusense.detect.detector import DEFAULT_MODEL
from occusense.detect.engines import InferenceError, OnnxEngine
from occusense.detect.presets import make_detector
from occusense.detect.shared import BatchingEngine, DetectorPool
from occusense.sources import open_source

SAMPLE = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def frames(count: int) -> list[np.ndarray]:
    source = open_source(str(SAMPLE), 0.0, False)
    images = [frame.image for _, frame in zip(range(count), source.frames(), strict=False)]
    source.close()
    return images


def reduce_model(path: Path, axes: list[int]) -> Path:
    """A model whose one output is the input's mean over ``axes``, with a
    dynamic batch (axes [2, 3]: one row per image; [0, 2, 3]: the batch
    mixed into one answer, which must not be split)."""
    node = helper.make_node("ReduceMean", ["images"], ["means"], axes=axes, keepdims=0)
    inputs = [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 8, 8])]
    out_shape = ["batch", 3] if 0 not in axes else [3]
    outputs = [helper.make_tensor_value_info("means", TensorProto.FLOAT, out_shape)]
    model = helper.make_model(helper.make_graph([node], "reduce", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def run_at_once(engine, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Each input from its own thread, all released together."""
    answers: list = [None] * len(inputs)
    start = threading.Barrier(len(inputs))

    def one(i: int) -> None:
        start.wait()
        answers[i] = engine.run(engine.output_names, {engine.input_name: inputs[i]})[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_pooled_detections_are_a_cameras_own():
    config = DeviceConfig().detector
    scheme = DeviceConfig().general.recognition_scheme
    own = make_detector(config, scheme, threads=1)
    pool = DetectorPool(workers=1, max_batch=8, linger_s=0.05)
    try:
        cameras = [make_detector(config, scheme, pool=pool) for _ in range(4)]
        images = frames(4)
        expected = [own.detect(image) for image in images]
        found: list = [None] * 4
        start = threading.Barrier(4)

        def camera(i: int) -> None:
            start.wait()
            found[i] = cameras[i].detect(images[i])

        threads = [threading.Thread(target=camera, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for got, want in zip(found, expected, strict=True):
            assert len(want) >= 2  # people in the sample
            np.testing.assert_allclose(got.boxes, want.boxes, atol=0.05)
            np.testing.assert_allclose(got.scores, want.scores, atol=1e-4)
        batches, inputs = next(iter(pool.stats().values()))
        assert inputs >= 4 and batches < inputs  # some inputs shared an inference
        cameras[0].close()  # one camera going leaves the pool running for the others
        assert len(cameras[1].detect(images[1])) == len(expected[1])
    finally:
        pool.close()


def test_a_model_batched_on_the_first_axis_splits_back(tmp_path):
    model = reduce_model(tmp_path / "rows.onnx", [2, 3])
    engine = BatchingEngine(OnnxEngine(model, 1), max_batch=4, linger_s=0.05)
    try:
        assert engine.splits == [shared._first_axis]
        inputs = [np.full((1, 3, 8, 8), v, np.float32) for v in (1.0, 2.0, 3.0, 4.0)]
        answers = run_at_once(engine, inputs)
        for value, answer in zip((1.0, 2.0, 3.0, 4.0), answers, strict=True):
            np.testing.assert_allclose(answer, np.full((1, 3), value))
        assert engine.batches < engine.inputs == 4
    finally:
        engine.shutdown()


def test_a_model_that_mixes_the_batch_runs_one_input_at_a_time(tmp_path):
    model = reduce_model(tmp_path / "mixed.onnx", [0, 2, 3])
    engine = BatchingEngine(OnnxEngine(model, 1), max_batch=4, linger_s=0.05)
    try:
        assert engine.splits is None and engine.max_batch == 1
        answers = run_at_once(engine, [np.full((1, 3, 8, 8), v, np.float32) for v in (1.0, 5.0)])
        assert sorted(float(a[0]) for a in answers) == [1.0, 5.0]
        assert engine.batches == engine.inputs == 2
    finally:
        engine.shutdown()


def test_a_failed_inference_reaches_every_waiting_camera(tmp_path):
    model = reduce_model(tmp_path / "rows.onnx", [2, 3])
    engine = BatchingEngine(OnnxEngine(model, 1), max_batch=4)
    try:
        wrong = np.zeros((1, 3, 5, 5), np.float32)  # the model takes 8x8 only
        with pytest.raises(InferenceError):
            engine.run(engine.output_names, {engine.input_name: wrong})
        right = np.ones((1, 3, 8, 8), np.float32)  # and the pool goes on
        np.testing.assert_allclose(engine.run(engine.output_names,
                                              {engine.input_name: right})[0], [[1, 1, 1]])
    finally:
        engine.shutdown()


def test_the_bundled_model_batches_once_its_reshape_is_undone():
    engine = BatchingEngine(OnnxEngine(DEFAULT_MODEL, 1), max_batch=2)
    try:
        # [1, C, B*anchors] transposed: the TensorFlow graph's reshape for one image
        assert engine.splits == [shared._channels_flat] * 6
    finally:
        engine.shutdown()


def test_same_model_same_engine_other_model_another(tmp_path):
    pool = DetectorPool(workers=1)
    try:
        config = DeviceConfig().detector
        a = pool.engine_for(config, DEFAULT_MODEL)
        b = pool.engine_for(config, DEFAULT_MODEL)
        assert a._engine is b._engine
        other = reduce_model(tmp_path / "rows.onnx", [2, 3])
        assert pool.engine_for(config, other)._engine is not a._engine
    finally:
        pool.close()



def test_on_the_cpu_auto_means_no_batching(tmp_path):
    model = reduce_model(tmp_path / "rows.onnx", [2, 3])
    engine = BatchingEngine(OnnxEngine(model, 1), max_batch=shared.AUTO)
    try:
        assert engine.max_batch == 1 and "no batching" in engine.where
    finally:
        engine.shutdown()


def test_an_idle_worker_takes_a_request_rather_than_it_joining_a_batch(tmp_path):
    model = reduce_model(tmp_path / "rows.onnx", [2, 3])
    engine = BatchingEngine(OnnxEngine(model, 1), workers=2, max_batch=4,
                            linger_s=0.05)
    try:
        answers = run_at_once(engine, [np.full((1, 3, 8, 8), v, np.float32) for v in (1, 2)])
        assert [float(a[0, 0]) for a in answers] == [1.0, 2.0]
        assert engine.batches == engine.inputs == 2  # both workers ran one each
    finally:
        engine.shutdown()
