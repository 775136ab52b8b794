"""Writes into a TensorFlow.js graph model the attributes that tfjs leaves
out and TensorFlow fills in by default, so that tf2onnx can convert it:
``TArgs`` on fused convolutions (a list of DT_FLOAT, ``num_args`` long), and
every type attribute that the op's definition declares and the node lacks
(its default where it has one, else DT_FLOAT). Run with the converter's
Python (tensorflow-cpu):

    python tools/fill_tfjs_attrs.py MODEL.json FIXED.json
"""

from __future__ import annotations

import json
import sys

from tensorflow.python.framework import op_def_registry

FUSED = {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"}


def fill(node: dict) -> None:
    attrs = node.setdefault("attr", {})
    op = node.get("op", "")
    if op in FUSED and "TArgs" not in attrs:
        count = int(attrs.get("num_args", {}).get("i", 0))
        attrs["TArgs"] = {"list": {"type": ["DT_FLOAT"] * count}}
    definition = op_def_registry.get(op)
    if definition is None:
        return
    for attr in definition.attr:
        if attr.name in attrs or attr.type != "type":
            continue
        default = attr.default_value.type if attr.HasField("default_value") else 1
        from tensorflow.core.framework import types_pb2

        attrs[attr.name] = {"type": types_pb2.DataType.Name(default)}


def main() -> None:
    model = json.load(open(sys.argv[1]))
    graph = model["modelTopology"]
    for node in graph.get("node", []):
        fill(node)
    for function in graph.get("library", {}).get("function", []):
        for node in function.get("nodeDef", []):
            fill(node)
    json.dump(model, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
