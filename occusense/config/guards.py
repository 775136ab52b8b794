"""Rules for changing a running configuration that no single value breaks.

A new configuration can be valid on its own and still be refused as a
change: the privacy mode is fixed once chosen at activation (SPEC P5, only a
factory reset changes it), and files the sensor writes stay inside its state
directory unless the config file itself (trusted: whoever wrote it owns the
machine) places them elsewhere; the REST API, an import or a downlink
cannot make the sensor append to ``/proc/version``.
"""

from __future__ import annotations

from pathlib import Path

from occusense.config.model import DeviceConfig
from occusense.errors import ConfigError


def check_change(current: DeviceConfig, new: DeviceConfig, *, privacy_fixed: bool,
                 trusted: bool) -> None:
    """Raise :class:`ConfigError` naming the field if ``current`` may not
    become ``new``."""
    problems = []
    if privacy_fixed and new.privacy_mode is not current.privacy_mode:
        problems.append(
            f"privacy_mode: it is {current.privacy_mode.value}, chosen at activation; "
            "only a factory reset changes it")
    if not trusted:
        problems += _written_files(current, new)
    if problems:
        raise ConfigError("; ".join(problems))


def _written_files(current: DeviceConfig, new: DeviceConfig) -> list[str]:
    problems = []
    if new.state_dir != current.state_dir:
        problems.append("state_dir: set it in the config file, not over the network")
    path = new.output.jsonl_path
    if path and path != current.output.jsonl_path and not inside(path, new.state_dir):
        problems.append(
            f"output.jsonl_path: {path!r} is outside the state directory "
            f"{new.state_dir!r}; a file elsewhere is set in the config file only")
    return problems


def inside(path: str, folder: str) -> bool:
    """``path`` (resolved, links followed) lies within ``folder``."""
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, ValueError, RuntimeError):
        return False
