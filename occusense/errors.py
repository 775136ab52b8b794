"""Named errors with messages that say what is wrong and what to do."""

from __future__ import annotations


class OccusenseError(Exception):
    """Base of every error occusense raises on purpose."""


class ConfigError(OccusenseError):
    """A configuration file or value breaks a rule; the message names the field.

    ``problems``: each field's dotted path and what is wrong with it in
    words, when the model's validation found them (the GUI shows each next
    to its field).
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class SourceError(OccusenseError):
    """A video source cannot be opened or read."""


class TransportError(OccusenseError):
    """A report could not be delivered; the message names the recipient."""


class StateLockedError(OccusenseError):
    """Another running sensor holds the state directory."""


class StateDirError(OccusenseError):
    """The state directory cannot be made or written (read-only, full, not a folder)."""
