"""Issue 17: model families as plugins. Each family's decoding runs on a tiny
generated ONNX model of its layout whose outputs hold one known person, and
the layout is recognised from the output shapes alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from occusense.config import parse_config
from occusense.config.device import DetectorInput
from occusense.detect.detector import DetectorSettings, ModelSettings, OnnxDetector
from occusense.detect.engines import InferenceError, choose_providers
from occusense.detect.families import recognise
from occusense.detect.presets import make_detector
from occusense.errors import ConfigError

SIDE = 64  # the tiny models' input: strides 8/16/32 give 64 + 16 + 4 = 84 cells
CELLS = 84


def constant_model(path: Path, outputs: dict[str, np.ndarray], size_input: bool = False) -> Path:
    """An ONNX model whose outputs are ``outputs`` whatever the image (each
    output is the constant plus 0 x the image's mean, so the graph uses its
    input as a real exported model does)."""
    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"])]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    graph_outputs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_value"))
        summed = f"{name}_sum" if value.dtype == np.int64 else name
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [summed]))
        kind = TensorProto.FLOAT
        if value.dtype == np.int64:
            nodes.append(helper.make_node("Cast", [summed], [name], to=TensorProto.INT64))
            kind = TensorProto.INT64
        graph_outputs.append(helper.make_tensor_value_info(name, kind, list(value.shape)))
    inputs = [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIDE, SIDE])]
    if size_input:
        inputs.append(helper.make_tensor_value_info("orig_target_sizes", TensorProto.INT64, [1, 2]))
    graph = helper.make_graph(nodes, "tiny", inputs, graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def peaked(bins: int, at: int) -> np.ndarray:
    """Logits of a distribution over ``bins`` all at bin ``at``."""
    out = np.full(bins, -50.0, np.float32)
    out[at] = 50.0
    return out


def nanodet_outputs(classes: int = 2, person: int = 0) -> dict[str, np.ndarray]:
    """Six outputs; one person at stride 8, cell (col 3, row 4), whose centre
    (the GFL head's point) is (28, 36); sides 2, 2, 3, 3 strides: the box
    (12, 20, 52, 60)."""
    out = {}
    for stride in (8, 16, 32):
        cells = (SIDE // stride) ** 2
        scores = np.zeros((1, cells, classes), np.float32)
        boxes = np.zeros((1, cells, 44), np.float32)
        if stride == 8:
            cell = 4 * 8 + 3
            scores[0, cell, person] = 0.9
            boxes[0, cell] = np.concatenate([peaked(11, 2), peaked(11, 2),
                                             peaked(11, 3), peaked(11, 3)])
        out[f"boxes_{stride}"], out[f"cls_{stride}"] = boxes, scores
    return dict(reversed(out.items()))  # an order the decoder must sort out


def nanodet_plus_output() -> dict[str, np.ndarray]:
    """One output over strides 8-64 (85 cells), classes then 4 x 8 bins; the
    person at stride 16, cell (col 1, row 2) = point (16, 32), sides 1, 1, 2, 2
    strides: the box (0, 16, 48, 64)."""
    out = np.zeros((1, 85, 2 + 32), np.float32)
    cell = 64 + 2 * 4 + 1
    out[0, cell, 0] = 0.9
    out[0, cell, 2:] = np.concatenate([peaked(8, 1), peaked(8, 1), peaked(8, 2), peaked(8, 2)])
    return {"output": out}


def yolox_output() -> dict[str, np.ndarray]:
    """Raw YOLOX: at stride 16, cell (col 1, row 2), offsets 0.5 -> centre
    (24, 40); log size log 2 -> 32 x 32; objectness 0.9 x person 0.8."""
    out = np.zeros((1, CELLS, 5 + 2), np.float32)
    out[0, 64 + 2 * 4 + 1] = [0.5, 0.5, np.log(2), np.log(2), 0.9, 0.8, 0.1]
    return {"output": out}


def yolo_v8_output() -> dict[str, np.ndarray]:
    """(1, 4 + C, N): centre (32, 32), size 20 x 40 -> the box (22, 12, 42, 52)."""
    out = np.zeros((1, 4 + 2, CELLS), np.float32)
    out[0, :, 10] = [32, 32, 20, 40, 0.9, 0.05]
    return {"output0": out}


def yolo_v5_output() -> dict[str, np.ndarray]:
    """(1, 3 x cells, 5 + C) with objectness."""
    out = np.zeros((1, 3 * CELLS, 5 + 2), np.float32)
    out[0, 100] = [32, 32, 20, 40, 0.9, 1.0, 0.0]
    return {"output0": out}


def yolo_end2end_output() -> dict[str, np.ndarray]:
    """(1, 300, 6): x1 y1 x2 y2 score class; a chair (class 56) is not counted."""
    out = np.zeros((1, 300, 6), np.float32)
    out[0, 0] = [22, 12, 42, 52, 0.9, 0]
    out[0, 1] = [2, 2, 10, 10, 0.95, 56]
    return {"output0": out}


def detr_two_outputs() -> dict[str, np.ndarray]:
    """RF-DETR style: boxes as relative centres and sizes, class logits."""
    boxes = np.zeros((1, 300, 4), np.float32)
    logits = np.full((1, 300, 3), -9.0, np.float32)
    boxes[0, 7] = [0.5, 0.5, 20 / SIDE, 40 / SIDE]
    logits[0, 7, 1] = 3.0  # class 1 is "person" in RF-DETR's COCO ids
    return {"dets": boxes, "labels": logits}


def detr_three_outputs() -> dict[str, np.ndarray]:
    """RT-DETR / D-FINE style: labels, x1 y1 x2 y2 boxes in input pixels, scores."""
    labels = np.zeros((1, 300), np.int64)
    labels[0, 1] = 5  # a bus
    boxes = np.zeros((1, 300, 4), np.float32)
    boxes[0, 0] = [22, 12, 42, 52]
    boxes[0, 1] = [0, 0, 60, 60]
    scores = np.zeros((1, 300), np.float32)
    scores[0, :2] = [0.9, 0.99]
    return {"labels": labels, "boxes": boxes, "scores": scores}


def detr_one_output() -> dict[str, np.ndarray]:
    """Ultralytics RT-DETR: (1, 300, 4 + 80), relative centres and sizes, scores."""
    out = np.zeros((1, 300, 4 + 80), np.float32)
    out[0, 3, :5] = [0.5, 0.5, 20 / SIDE, 40 / SIDE, 0.9]
    return {"output0": out}


CASES = {
    "nanodet": (nanodet_outputs, "nanodet", [12, 20, 52, 60], 0.9, 0),
    "nanodet-plus": (nanodet_plus_output, "nanodet", [0, 16, 48, 64], 0.9, 0),
    "yolox": (yolox_output, "yolox", [8, 24, 40, 56], 0.72, 0),
    "yolo-v8": (yolo_v8_output, "yolo", [22, 12, 42, 52], 0.9, 0),
    "yolo-v5": (yolo_v5_output, "yolo", [22, 12, 42, 52], 0.9, 0),
    "yolo-end2end": (yolo_end2end_output, "yolo", [22, 12, 42, 52], 0.9, 0),
    "detr-rf": (detr_two_outputs, "detr", [22, 12, 42, 52], 1 / (1 + np.exp(-3.0)), 1),
    "detr-rt": (detr_three_outputs, "detr", [22, 12, 42, 52], 0.9, 0),
    "detr-ultralytics": (detr_one_output, "detr", [22, 12, 42, 52], 0.9, 0),
}


@pytest.mark.parametrize("case", CASES)
def test_each_family_decodes_its_person_and_nothing_else(tmp_path, case):
    outputs, _, box, score, person = CASES[case]
    path = constant_model(tmp_path / "m.onnx", outputs(), size_input=case == "detr-rt")
    settings = DetectorSettings(score_threshold=0.5, input=DetectorInput.stretched,
                                short_side=SIDE)
    found = OnnxDetector(settings, path, model=ModelSettings(person_class=person)).detect(
        np.zeros((2 * SIDE, 2 * SIDE, 3), np.uint8)  # twice the input: boxes scale by 2
    )
    np.testing.assert_allclose(found.boxes, [[2 * v for v in box]], atol=0.05)
    np.testing.assert_allclose(found.scores, [score], atol=1e-3)


@pytest.mark.parametrize("case", CASES)
def test_the_family_is_recognised_from_the_output_shapes(case):
    outputs, family, *_ = CASES[case]
    shapes = [a.shape for a in outputs().values()]
    assert recognise(shapes, SIDE, SIDE) == family


def test_a_layout_that_fits_no_family_says_to_name_one(tmp_path):
    path = constant_model(tmp_path / "odd.onnx", {"out": np.zeros((1, 7), np.float32)})
    config = parse_config({"detector": {"model": str(path)}}).detector
    with pytest.raises(ConfigError, match=r"set detector\.family to one of nanodet, yolox"):
        make_detector(config, parse_config({}).general.recognition_scheme)


def test_a_family_named_in_the_config_is_used(tmp_path):
    # a v8 layout turned to rows (1, N, 4 + C) reads as YOLOX by its cell count
    rows = np.zeros((1, CELLS, 4 + 3), np.float32)
    rows[0, 10] = [32, 32, 20, 40, 0.9, 0.05, 0.0]
    assert recognise([rows.shape], SIDE, SIDE) == "yolox"
    rows = {"output0": rows}
    path = constant_model(tmp_path / "rows.onnx", rows)
    config = parse_config({"detector": {"model": str(path), "family": "yolo",
                                        "input": "stretched"}}).detector
    detector = make_detector(config, parse_config({}).general.recognition_scheme)
    assert detector.family.name == "yolo"
    found = detector.detect(np.zeros((SIDE, SIDE, 3), np.uint8))
    np.testing.assert_allclose(found.boxes, [[22, 12, 42, 52]], atol=0.05)


def test_a_file_that_is_not_a_model_is_a_config_error(tmp_path):
    path = tmp_path / "weights.onnx"
    path.write_bytes(b"not a model")
    config = parse_config({"detector": {"model": str(path)}}).detector
    with pytest.raises(ConfigError, match=r"weights\.onnx: not a model ONNX Runtime can load"):
        make_detector(config, parse_config({}).general.recognition_scheme)


def test_the_old_backend_and_model_path_keys_still_load():
    detector = parse_config({"detector": {"backend": "nanodet", "model_path": "m.onnx"}}).detector
    assert (detector.family, detector.model) == ("nanodet", "m.onnx")


def test_providers_are_the_installed_accelerators_then_the_cpu():
    import onnxruntime as ort

    installed = ort.get_available_providers()
    chosen = choose_providers("auto")
    assert chosen[-1] == "CPUExecutionProvider"
    assert all(p in installed for p in chosen)
    assert "AzureExecutionProvider" not in chosen  # a remote service, not an accelerator
    with pytest.raises(InferenceError, match="TensorrtExecutionProvider not installed"):
        choose_providers("TensorrtExecutionProvider")


def test_the_detector_says_what_runs_where():
    detector = make_detector(parse_config({}).detector, parse_config({}).general.recognition_scheme)
    assert detector.describe() == "nanodet-416.onnx (nanodet family) on CPU"
