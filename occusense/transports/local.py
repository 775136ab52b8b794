"""Local report sinks: the console (stdout) and an append-only JSONL file.

One JSON object per line, so ``jq`` and ``check_report_shape.py`` read them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from occusense.config.model import OutputSettings
from occusense.errors import OccusenseError
from occusense.reports.reporter import Report


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
    """Appends each report to a JSON Lines file, flushed line by line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise OccusenseError(
                f"cannot write reports to {self.path} ({exc.strerror or exc})"
            ) from None

    def send(self, report: Report) -> None:
        self._fh.write(json.dumps(report.body, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
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
