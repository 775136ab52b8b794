"""Issue 24 (8, 9): a full disk (a real tmpfs of 512 KiB) loses nothing that
it need not, and says what it costs; a read-only state folder is one clear
error."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from occusense.reports.reporter import Report
from occusense.transports.local import JsonlSink
from occusense.transports.outbox import Outbox
from tests.conftest import REPO


class SmallDisk:
    """A tmpfs of ``size`` mounted for the test (CI runs as root), and a
    filler file that takes every byte left."""

    def __init__(self, root: Path, size: str = "512k", read_only: bool = False) -> None:
        self.root = root
        root.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(root)],
                                 capture_output=True, text=True)
        assert mounted.returncode == 0, f"a tmpfs is needed (run as root): {mounted.stderr}"
        self.filler = root / "filler"

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_CREAT | os.O_WRONLY | os.O_APPEND)
        try:
            while True:
                os.write(fd, bytes(4096))
        except OSError:
            pass
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.root)], check=False)


@pytest.fixture
def disk(tmp_path) -> Iterator[SmallDisk]:
    small = SmallDisk(tmp_path / "disk", size="2m")
    yield small
    small.unmount()


def drain(box: Outbox, recipient: str) -> list[str]:
    bodies = []
    while found := box.oldest(recipient):
        report_id, body = found[0]
        bodies.append(body)
        box.remove(report_id)
    return bodies


def test_a_good_store_on_a_full_disk_is_kept_and_sent_in_order(disk):
    path = disk.root / "outbox.sqlite"
    box = Outbox(path)
    for n in range(5):
        box.add("broker", f"queued {n}")
    box.close()
    disk.fill()
    box = Outbox(path)  # no exception, no store set aside
    assert box.recovered_from is None
    assert not [p for p in disk.root.iterdir() if "corrupt" in p.name]
    assert "disk full" in box.disk_problem
    for n in range(3):
        box.add("broker", f"new {n}")
    assert box.count("broker") == 8
    assert drain(box, "broker") == [f"queued {n}" for n in range(5)] + [
        f"new {n}" for n in range(3)]
    disk.free()
    box._retry_at = 0  # space is back: the next use finds it (every 5 s otherwise)
    box.add("broker", "after")
    assert box.disk_problem == ""
    box.close()
    again = Outbox(path)  # what was sent is not sent twice, what was not is kept
    assert drain(again, "broker") == ["after"]
    again.close()


def test_reports_made_while_the_disk_is_full_wait_in_memory_and_reach_the_store(disk):
    path = disk.root / "outbox.sqlite"
    box = Outbox(path)
    box.add("broker", "before")
    disk.fill()
    for n in range(50):  # each would have been a traceback and a lost report
        box.add("broker", f"full {n} " + uuid.uuid4().hex * 20)
    assert box.count("broker") == 51
    assert "in memory only" in box.disk_problem
    first = box.oldest("broker", 2)
    assert first[0][1] == "before" and first[1][1].startswith("full 0 ")
    disk.free()
    box._retry_at = 0
    box.add("broker", "after")
    assert box.disk_problem == ""
    box.close()
    again = Outbox(path)  # all of it is in the store now, in order
    bodies = drain(again, "broker")
    assert bodies[0] == "before" and bodies[-1] == "after" and len(bodies) == 52
    assert [b.split()[1] for b in bodies[1:-1]] == [str(n) for n in range(50)]
    again.close()


def test_the_report_file_on_a_full_disk_catches_up(disk):
    sink = JsonlSink(disk.root / "reports.jsonl")
    disk.fill()
    for n in range(20):
        sink.send(Report("line", {"n": n, "pad": "x" * 200}))
    assert sink.problem
    disk.free()
    sink.send(Report("line", {"n": 20}))
    assert sink.problem == "" and sink.lost == 0
    sink.close()
    lines = (disk.root / "reports.jsonl").read_text().splitlines()
    assert [yaml.safe_load(line)["n"] for line in lines] == list(range(21))


def test_the_sensor_starts_and_runs_on_a_full_disk(disk, sample_video, tmp_path):
    state = disk.root / "state"
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(state), "output": {"jsonl_path": ""}}))
    command = [sys.executable, "-m", "occusense.cli", "run", "--config", str(config),
               "--source", str(sample_video), "--no-web", "--quiet", "--max-frames", "5"]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    disk.fill()
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    assert "done: 5 frames" in second.stderr


def test_a_read_only_state_folder_is_one_clear_error(tmp_path, sample_video):
    read_only = SmallDisk(tmp_path / "ro", read_only=True)
    try:
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump({"state_dir": str(read_only.root / "state"),
                                          "output": {"jsonl_path": ""}}))
        run = subprocess.run([sys.executable, "-m", "occusense.cli", "run", "--config",
                              str(config), "--source", str(sample_video), "--no-web",
                              "--max-frames", "2"], cwd=REPO, capture_output=True, text=True,
                             timeout=120)
    finally:
        read_only.unmount()
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "cannot be written (Read-only file system)" in run.stderr


def test_spaces_saved_on_a_full_disk_are_one_clear_error_and_nothing_changes(tmp_path):
    from occusense.errors import ConfigError
    from occusense.fleet.site import SiteFolder

    disk = SmallDisk(tmp_path / "site")
    try:
        (disk.root / "site.yaml").write_text("name: Shop\n")
        folder = SiteFolder(disk.root)
        disk.fill()
        with pytest.raises(ConfigError, match=r"cannot be written .*the spaces stay as they were"):
            folder.save_spaces([{"id": "shop", "lines": [{"camera": "front"}]}])
        assert (disk.root / "site.yaml").read_text() == "name: Shop\n"
    finally:
        disk.unmount()
