"""Digital input and output (the VS121-P's DI and DO terminals).

Two backends behind one small interface:

- :class:`SoftwarePins` — pins kept in a small JSON file in the sensor's
  state directory, so that the running sensor and ``occusense io get/set``
  (or the REST API) in another process see the same values. Writes are
  atomic (temp file + rename); reads are a stat and, when the file changed,
  a parse.
- :class:`GpioPins` — a Linux GPIO line through libgpiod 2 (the ``gpiod``
  PyPI package), where the host has a GPIO chip.

Semantics follow the guide: the overcrowding alarm *opens* DO (value 1)
while the count is above the threshold and closes it (0) within it; a pulse
on DI (a rising edge, 0 -> 1) arms the staff/deliverer filter.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol

from occusense.config.device import DigitalIO
from occusense.errors import OccusenseError
from occusense.files import write_atomic

log = logging.getLogger(__name__)
PINS = ("di", "do")


class Pins(Protocol):
    """Read DI, drive DO (and read it back)."""

    def read(self, pin: str) -> int: ...

    def write(self, pin: str, value: int) -> None: ...


class SoftwarePins:
    """DI/DO held in ``<state_dir>/dio.json``, shared between processes.

    Example:
        >>> import tempfile
        >>> pins = SoftwarePins(tempfile.mkdtemp())
        >>> pins.write("di", 1); pins.read("di")
        1
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / "dio.json"
        self._cache: dict[str, int] = {"di": 0, "do": 0}
        self._mtime: int | None = None

    def read(self, pin: str) -> int:
        _check(pin)
        self._refresh()
        return self._cache[pin]

    def write(self, pin: str, value: int) -> None:
        _check(pin)
        if value not in (0, 1):
            raise OccusenseError(f"pin value must be 0 or 1, got {value!r}")
        self._refresh()
        self._cache[pin] = value
        write_atomic(self.path, json.dumps(self._cache), private_folder=True)
        self._mtime = self.path.stat().st_mtime_ns

    def _refresh(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            data = json.loads(self.path.read_text())
            self._cache = {p: 1 if data.get(p) else 0 for p in PINS}
        except (OSError, ValueError, AttributeError):
            log.warning("%s is unreadable; keeping the last pin values", self.path)


class GpioPins:
    """DI and DO on lines of a Linux GPIO chip (libgpiod 2).

    Args:
        chip: the chip's device, e.g. ``/dev/gpiochip0``.
        di_line, do_line: line offsets (-1 = not wired).
        gpiod: the ``gpiod`` module (injected for tests without a chip).
    """

    def __init__(self, chip: str, di_line: int, do_line: int, gpiod=None) -> None:
        if gpiod is None:
            gpiod = _import_gpiod()
        self._gpiod = gpiod
        self.lines = {"di": di_line, "do": do_line}
        settings = {}
        if di_line >= 0:
            settings[di_line] = gpiod.LineSettings(direction=gpiod.line.Direction.INPUT)
        if do_line >= 0:
            settings[do_line] = gpiod.LineSettings(direction=gpiod.line.Direction.OUTPUT)
        if not settings:
            raise OccusenseError("digital_io: set di_line and/or do_line for the gpio backend")
        try:
            self._request = gpiod.request_lines(chip, consumer="occusense", config=settings)
        except OSError as exc:
            raise OccusenseError(f"cannot open GPIO chip {chip}: {exc}") from None

    def _line(self, pin: str) -> int:
        _check(pin)
        line = self.lines[pin]
        if line < 0:
            raise OccusenseError(f"digital_io.{pin}_line is not set")
        return line

    def read(self, pin: str) -> int:
        line = self._line(pin)
        try:
            value = self._request.get_value(line)
        except OSError as exc:
            raise OccusenseError(f"GPIO line {line}: {exc}") from None
        return 1 if value == self._gpiod.line.Value.ACTIVE else 0

    def write(self, pin: str, value: int) -> None:
        if pin != "do":
            raise OccusenseError("only DO can be driven on a GPIO chip; DI is an input")
        line, levels = self._line(pin), self._gpiod.line.Value
        try:
            self._request.set_value(line, levels.ACTIVE if value else levels.INACTIVE)
        except OSError as exc:
            raise OccusenseError(f"GPIO line {line}: {exc}") from None


def _import_gpiod():
    try:
        import gpiod
    except ImportError:
        raise OccusenseError(
            "digital_io.backend is gpio but the gpiod package is not installed (pip install gpiod)"
        ) from None
    return gpiod


def _check(pin: str) -> None:
    if pin not in PINS:
        raise OccusenseError(f"unknown pin {pin!r}; use di or do")


def open_pins(settings: DigitalIO, state_dir: str | Path) -> Pins:
    """The configured backend; software pins live in ``state_dir``."""
    if settings.backend == "gpio":
        return GpioPins(settings.gpio_chip, settings.di_line, settings.do_line)
    return SoftwarePins(state_dir)


class EdgeDetector:
    """Turns DI reads into rising-edge pulses."""

    def __init__(self) -> None:
        self._last = 0

    def rising(self, value: int) -> bool:
        edge = value == 1 and self._last == 0
        self._last = value
        return edge
