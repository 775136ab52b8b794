"""Issue 20: `occusense serve` as an integrator starts it (and as systemd
stops it): the site's GUI answers, the cameras count, SIGTERM stops every
camera cleanly and lets go of the state folders."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from occusense.files import StateLock
from tests.conftest import REPO
from tests.fleet.conftest import write_camera
from tests.transports.conftest import wait_for


def serve(site: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "occusense.cli", "serve", "--site", str(site), "--port", "0",
         "--quiet"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def read_until(process: subprocess.Popen, pattern: str, timeout: float = 60) -> re.Match:
    deadline = time.monotonic() + timeout
    seen = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if found := re.search(pattern, line):
            return found
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"{pattern!r} not printed; got:\n{''.join(seen)}")


def test_serve_runs_the_site_and_stops_on_sigterm(tmp_path):
    site = tmp_path / "site"
    write_camera(site, "lobby")
    write_camera(site, "entrance")
    (site / "site.yaml").write_text("name: HQ\n")
    process = serve(site)
    try:
        url = read_until(process, r"web GUI: (http://\S+)").group(1)
        read_until(process, r"occusense serve: 2 camera\(s\)")
        assert httpx.get(f"{url}activate").status_code == 200
        report = site / "state" / "lobby" / "reports.jsonl"
        assert wait_for(lambda: report.exists() and report.stat().st_size > 0, timeout=60)
        process.send_signal(signal.SIGTERM)
        stopped = read_until(process, r"stopped 2 camera\(s\) in ([0-9.]+) s", timeout=30)
        assert float(stopped.group(1)) < 15
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    for folder in ("site", "lobby", "entrance"):  # every state folder is free again
        StateLock(site / "state" / folder).acquire().release()


def test_a_second_service_on_the_same_site_is_refused(tmp_path):
    site = tmp_path / "site"
    write_camera(site, "lobby")
    first = serve(site)
    try:
        read_until(first, r"occusense serve: 1 camera\(s\)")
        second = subprocess.run(
            [sys.executable, "-m", "occusense.cli", "serve", "--site", str(site), "--no-web"],
            cwd=REPO, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "in use" in second.stderr or "locked" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)


def test_a_bad_site_file_or_folder_is_a_clear_error(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "site.yaml").write_text("pool: {workers: 99}\n")
    bad = subprocess.run([sys.executable, "-m", "occusense.cli", "serve", "--site", str(site)],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "pool.workers" in bad.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "occusense.cli", "serve", "--site", str(tmp_path / "typo")],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    # a space with a bad id: the rule is said as written ([a-z0-9] is not markup)
    (site / "site.yaml").write_text("spaces:\n  - {id: Bad Id, lines: [{camera: a}]}\n")
    bad = subprocess.run([sys.executable, "-m", "occusense.cli", "serve", "--site", str(site)],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "'^[a-z0-9][a-z0-9_-]{0,31}$'" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
