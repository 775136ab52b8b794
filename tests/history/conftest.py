"""A real PostgreSQL server (Debian's), started for the tests in a temporary
folder on a free port and stopped after them. initdb and postgres refuse to
run as root (CI runs as root): they run as the postgres user."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.transports.conftest import free_port


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "install Debian's postgresql (scripts/install.sh does)"
    binaries = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="occusense-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    subprocess.run(_as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", "occusense",
                                 "--auth=trust", "--no-sync"]),
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(_as_postgres([str(binaries / "postgres"), "-D", str(data),
                                            "-p", str(port), "-h", "127.0.0.1",
                                            "-k", str(folder), "-c", "fsync=off"]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"postgresql://occusense@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    while subprocess.run([str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                         capture_output=True).returncode != 0:
        assert time.monotonic() < deadline and server.poll() is None, "postgres did not start"
        time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(folder, ignore_errors=True)
