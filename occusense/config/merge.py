"""A three-way merge of settings: a configuration file edited while the GUI
changed the running copy (issue 28).

The running copy (``<state_dir>/config.yaml``) started from the file as it
was last read (the *base*); since then the GUI, the API or a downlink may
have changed it (*ours*) and somebody may have edited the file (*theirs*).
Each setting is a leaf: a value that is not a mapping (a list, such as the
regions or a polygon, is one leaf: it is drawn as a whole). A leaf the file
changed takes the file's value; a leaf only the GUI changed keeps the GUI's;
one both changed differently is a *conflict*: the file's value is used and
the conflict is named, so that no edit is lost without a word.

Written here (about 60 lines) rather than taken from a library: the
candidates (deepmerge, jsonmerge, dictdiffer) merge two documents, not
three, and none reports conflicts per setting.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]
_MISSING = object()


def leaves(data: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Every leaf of nested mappings by its path (a mapping's keys below it)."""
    if not isinstance(data, dict) or not data:
        return {prefix: data}
    out: dict[Path, Any] = {}
    for key, value in data.items():
        out.update(leaves(value, (*prefix, str(key))))
    return out


def dotted(path: Path) -> str:
    return ".".join(path)


def _set(data: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    if value is _MISSING:
        data.pop(path[-1], None)
    else:
        data[path[-1]] = copy.deepcopy(value)


def changed(base: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """The settings ``other`` holds differently from ``base``, dotted."""
    before, after = leaves(base), leaves(other)
    return sorted(dotted(p) for p in before.keys() | after.keys()
                  if before.get(p, _MISSING) != after.get(p, _MISSING))


@dataclass
class Merged:
    """The merged settings and what happened to each changed setting."""

    data: dict[str, Any]
    from_file: list[str] = field(default_factory=list)  # the file's changes, applied
    kept: list[str] = field(default_factory=list)  # the GUI's changes, kept
    conflicts: list[str] = field(default_factory=list)  # both changed: the file's used


def three_way(base: dict[str, Any], theirs: dict[str, Any], ours: dict[str, Any]) -> Merged:
    """``ours`` with every setting ``theirs`` changed since ``base``."""
    old, new, mine = leaves(base), leaves(theirs), leaves(ours)
    merged = Merged(copy.deepcopy(ours))
    for path in sorted(old.keys() | new.keys() | mine.keys()):
        was = old.get(path, _MISSING)
        file_value, gui_value = new.get(path, _MISSING), mine.get(path, _MISSING)
        file_changed, gui_changed = file_value != was, gui_value != was
        if file_changed:
            if gui_changed and gui_value != file_value:
                merged.conflicts.append(dotted(path))
            _set(merged.data, path, file_value)
            merged.from_file.append(dotted(path))
        elif gui_changed:
            merged.kept.append(dotted(path))
    return merged
