"""Local report sinks: the console (stdout) and an append-only JSONL file.

One JSON object per line, so ``jq`` and ``check_report_shape.py`` read them.
"""

from __future__ import annotations

import collections
import json
import logging
import sys
from pathlib import Path
from typing import TextIO

from occusense.config.model import OutputSettings
from occusense.errors import OccusenseError
from occusense.files import private_file
from occusense.reports.reporter import Report

log = logging.getLogger(__name__)


class ConsoleSink:
    """Prints each report as one JSON line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, report: Report) -> None:
        self.stream.write(json.dumps(report.body, ensure_ascii=False) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Nothing to release."""


class JsonlSink:
    """Appends each report to a JSON Lines file, one write per line.

    A write that fails (a full disk) loses nothing at once: the lines wait
    in memory (the last ``PENDING`` of them) and are written, in order, with
    the next report once there is space; the log says once when writing
    stops, how many lines were lost if any, and when it works again.
    """

    PENDING = 1000

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            private_file(self.path)  # reports are the site's data: 0600 as the state files
            self._fh = self.path.open("ab", buffering=0)
        except OSError as exc:
            raise OccusenseError(
                f"cannot write reports to {self.path} ({exc.strerror or exc})"
            ) from None
        self._pending: collections.deque[bytes] = collections.deque()
        self.lost = 0
        self.problem = ""

    def send(self, report: Report) -> None:
        if report.kind == "event":  # the file holds the VS121-P reports only
            return
        self._pending.append((json.dumps(report.body, ensure_ascii=False) + "\n").encode())
        if len(self._pending) > self.PENDING:
            self._pending.popleft()
            self.lost += 1
        self._write()

    def _write(self) -> None:
        while self._pending:
            line = self._pending[0]
            try:
                written = self._fh.write(line)
            except OSError as exc:
                if not self.problem:
                    log.error("cannot append reports to %s (%s); they wait in memory "
                              "(the last %d)", self.path, exc.strerror or exc, self.PENDING)
                self.problem = f"{self.path}: {exc.strerror or exc}"
                return
            if written is not None and written < len(line):
                self._pending[0] = line[written:]
                continue
            self._pending.popleft()
        if self.problem:
            log.info("reports are written to %s again%s", self.path,
                     f"; {self.lost} line(s) were lost" if self.lost else "")
            self.problem = ""

    def close(self) -> None:
        self._write()
        if self._pending:
            log.error("%s: %d report line(s) could not be written", self.path,
                      len(self._pending))
        self._fh.close()


def local_sinks(output: OutputSettings, out: Path | None = None,
                console: bool = True) -> list[ConsoleSink | JsonlSink]:
    """The console and JSONL sinks ``output`` asks for (``out`` replaces its
    file; ``console=False`` silences the console)."""
    sinks: list[ConsoleSink | JsonlSink] = []
    if output.console and console:
        sinks.append(ConsoleSink())
    jsonl = out or (Path(output.jsonl_path) if output.jsonl_path else None)
    if jsonl:
        sinks.append(JsonlSink(jsonl))
    return sinks
