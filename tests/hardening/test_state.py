"""Issue 16: one running sensor per state directory, private state files, and
a stop that does not wait on recipients that do not answer."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from occusense.config import parse_config
from occusense.dio import SoftwarePins
from occusense.errors import StateLockedError
from occusense.files import StateLock
from occusense.transports.dispatcher import Dispatcher
from occusense.transports.outbox import Outbox
from tests.conftest import REPO
from tests.transports.test_delivery import http_config, report


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def wait_until(check, what: str, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_second_lock_on_one_state_directory_names_the_holder(tmp_path):
    with StateLock(tmp_path / "state"):
        with pytest.raises(StateLockedError, match=f"in use by another running occusense "
                                                   f"\\(PID {os.getpid()}\\)"):
            StateLock(tmp_path / "state").acquire()
    StateLock(tmp_path / "state").acquire().release()  # released on exit


def test_the_lock_of_a_killed_process_is_recovered(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from occusense.files import StateLock
            StateLock({str(tmp_path)!r}).acquire()
            print("locked", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StateLockedError, match=f"PID {holder.pid}"):
            StateLock(tmp_path).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        lock = StateLock(tmp_path).acquire()  # the kernel let go of the lock
        assert (tmp_path / "lock").read_text().strip() == str(os.getpid())
        lock.release()
    finally:
        holder.kill()


def test_two_sensors_cannot_run_on_one_state_directory(tmp_path, sample_video):
    config = {"state_dir": str(tmp_path / "state"), "output": {"jsonl_path": ""}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "occusense.cli", "run", "--config", str(tmp_path / "c.yaml"),
               "--source", str(sample_video), "--no-web", "--quiet"]
    first = subprocess.Popen([*command, "--realtime"], cwd=tmp_path, stderr=subprocess.PIPE,
                             text=True)
    try:
        lock = tmp_path / "state" / "lock"
        wait_until(lambda: lock.exists() and lock.read_text().strip(), "the first sensor")
        second = subprocess.run([*command, "--max-frames", "5"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 2
        assert f"in use by another running occusense (PID {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=30)
    assert lock.read_text() == ""  # a clean stop leaves no PID behind


def test_state_files_are_private(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    (state / "outbox.sqlite").touch(mode=0o644)  # as an older version left them
    os.chmod(state / "outbox.sqlite", 0o644)
    outbox = Outbox(state / "outbox.sqlite")
    outbox.add("r", "{}")
    files = [state / "outbox.sqlite", state / "outbox.sqlite-wal", state / "outbox.sqlite-shm"]
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    outbox.close()
    SoftwarePins(tmp_path / "pins").write("do", 1)
    assert mode(tmp_path / "pins" / "dio.json") == 0o600
    assert mode(state) == 0o700
    assert mode(tmp_path / "pins") == 0o700


class SilentServer:
    """Accepts connections and never answers: a recipient that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.timeout(30)  # a stop that waited on the drain (60 s) would hang here
def test_a_stop_leaves_a_hanging_recipient_behind_and_keeps_its_reports(tmp_path):
    silent = SilentServer()
    store = tmp_path / "state" / "outbox.sqlite"
    config = parse_config(http_config({"url": f"http://127.0.0.1:{silent.port}/r",
                                       "timeout_s": 120}))
    dispatcher = Dispatcher(config, store)
    try:
        for n in range(5):
            dispatcher.send(report(n))
        wait_until(lambda: silent.held, "the first delivery attempt")
        dispatcher.close(drain_s=60)
        # the worker still waits on the recipient's 120 s timeout: close did not
        assert any(thread.is_alive() for thread in dispatcher._threads)
        kept = Outbox(store)
        assert [body for _, body in kept.oldest(f"http://127.0.0.1:{silent.port}/r", 10)] == [
            f'{{"event": "Line Crossing Counting", "report_type": "trigger", '
            f'"line_trigger_data": {{"in": 1, "out": 0}}, "n": {n}}}' for n in range(5)]
        kept.close()
    finally:
        silent.close()
