#!/usr/bin/env bash
# Installs occusense from scratch on a Debian machine: system packages, a
# virtual environment in .venv, the package and its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  # opencv-doc ships the bundled sample video (PETS 2009 S2.L1, vtest.avi);
  # mosquitto is the real MQTT broker of the transport tests; chromium is the
  # real browser of the web GUI tests (Playwright drives it; it never downloads one).
  missing=""
  # GStreamer's RTSP server (with Debian's python3-gi) is the tests' real RTSP camera.
  # nodejs + npm run lora-packet, the tests' independent LoRaWAN frame check.
  pkgs="opencv-doc mosquitto mosquitto-clients chromium python3-gi gir1.2-gst-rtsp-server-1.0"
  pkgs="$pkgs gstreamer1.0-plugins-base gstreamer1.0-plugins-good"
  # PostgreSQL: the tests' real server for the history store of a site
  pkgs="$pkgs postgresql"
  # the RTSP output: GStreamer's RTSP server and H.264 encoder, and what PyGObject
  # builds against in the venv
  pkgs="$pkgs gstreamer1.0-plugins-ugly libgirepository1.0-dev libcairo2-dev pkg-config"
  command -v npm >/dev/null || pkgs="$pkgs nodejs npm"
  for pkg in $pkgs; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,rtsp]"
# ByteTrack from Roboflow's trackers package; --no-deps keeps opencv headless.
.venv/bin/python -m pip install -q --no-deps "trackers==2.6.1"
.venv/bin/python -c "import occusense.detect.detector, trackers"
# compile the counting kernels once (numba caches them beside the package):
# a sensor's first frames then do not wait tens of seconds for the compiler
.venv/bin/python -c "from occusense.analytics.warmup import warm_up; warm_up()"
# lora-packet (npm): the tests' independent check of LoRaWAN frames.
if command -v npm >/dev/null; then
  (cd tests/js && npm ci --no-audit --no-fund --silent)
else
  echo "warning: npm not found; the LoRaWAN frame checks with lora-packet will fail" >&2
fi
echo "occusense installed in .venv"
