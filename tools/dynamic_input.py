"""Make the input of an ONNX detector any size: ``N x 3 x H x W`` symbolic.

tf2onnx writes NanoDet's input as a fixed ``1 x 3 x 416 x 416``, and ONNX
Runtime refuses any other shape although the network is fully convolutional
(its reshapes compute their shapes from the tensor). With symbolic
dimensions one inference covers a whole 4:3 or 16:9 frame at its own aspect
(``occusense.detect.detector``), which costs 1.3x (4:3) to 1.7x (16:9) a
square inference instead of 2x to 3x for tiles.

    python tools/dynamic_input.py MODEL.onnx [OUT.onnx]

Needs the ``onnx`` package (conversion time only, not a runtime dependency).
"""

from __future__ import annotations

import sys

import onnx


def make_dynamic(path: str, out: str) -> None:
    model = onnx.load(path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, name in zip(dims, ("batch", None, "height", "width"), strict=True):
        if name is not None:
            dim.ClearField("dim_value")
            dim.dim_param = name
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    make_dynamic(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else sys.argv[1])
