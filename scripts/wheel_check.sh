#!/usr/bin/env bash
# Builds occusense's wheel, installs it in a clean virtual environment (the
# model inside it), and counts 50 frames of the sample with it: what a user
# who runs `pip install occusense-*.whl` gets.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel -q --no-deps -w "$work/dist" .
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "$work"/dist/occusense-*.whl
"$work/venv/bin/python" -m pip install -q --no-deps "trackers==2.6.1"
cd "$work"  # away from the checkout: the package must come from the wheel
"$work/venv/bin/occusense" run --max-frames 50 --no-web --quiet 2> "$work/run.log" \
  || { cat "$work/run.log" >&2; exit 1; }
grep -q "done: 50 frames" "$work/run.log" \
  || { cat "$work/run.log" >&2; echo "wheel check: the wheel did not count 50 frames" >&2; exit 1; }
echo "wheel check: the installed wheel (model included) counted 50 frames of the sample"

# and the service: a one-camera site for a few seconds, stopped as systemd stops it
mkdir -p "$work/site/cameras"
printf 'source:\n  uri: /usr/share/doc/opencv-doc/examples/data/vtest.avi\n  realtime: true\n' \
  > "$work/site/cameras/lobby.yaml"
timeout --preserve-status -s TERM 20 "$work/venv/bin/occusense" serve --site "$work/site" \
  --no-web --quiet 2> "$work/serve.log" || { cat "$work/serve.log" >&2; exit 1; }
grep -q "stopped 1 camera(s)" "$work/serve.log" && [ -s "$work/site/state/lobby/config.yaml" ] \
  || { cat "$work/serve.log" >&2; echo "wheel check: occusense serve did not run" >&2; exit 1; }
echo "wheel check: occusense serve ran a one-camera site from the wheel and stopped on SIGTERM"
