"""Bounded parsing of documents from outside: config files, web imports,
REST bodies, JSON given on the command line.

Every limit is checked before the work it bounds: the byte size before
decoding, the nesting depth, alias count and expanded node count of a YAML
document from its event stream (PyYAML's parser is a state machine, so the
scan itself cannot recurse) before a single object is built, and the nesting
and collection sizes of JSON before it reaches the typed model. A document
over a limit costs at most one pass over :data:`MAX_BYTES` bytes.

Why not a library: PyYAML and ``json`` are the parsers the project already
uses; neither bounds depth or alias expansion, and no maintained wrapper on
PyPI does both (``yaml`` "billion laughs" guards elsewhere cover aliases
only). The scan below is the missing piece, about 60 lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from occusense.errors import OccusenseError

MAX_BYTES = 1 << 20  # a full 16-region configuration is about 60 KB
MAX_DEPTH = 32  # the config nests 7 levels deep
MAX_ITEMS = 256  # entries of one mapping or list (the longest config list has 21)
MAX_NODES = 100_000  # nodes of the document with every alias expanded
MAX_ALIASES = 100


class DocumentError(OccusenseError):
    """A document too large, too deep, not UTF-8 or not parseable."""


@dataclass(frozen=True)
class Limits:
    """What a document may cost before it is refused."""

    max_bytes: int = MAX_BYTES
    max_depth: int = MAX_DEPTH
    max_items: int = MAX_ITEMS
    max_nodes: int = MAX_NODES
    max_aliases: int = MAX_ALIASES


DEFAULT_LIMITS = Limits()


def decode_text(raw: bytes | str, origin: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """UTF-8 text of ``raw``, refused when over the byte limit or not UTF-8."""
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > limits.max_bytes:
        raise DocumentError(f"{origin}: {size} bytes is over the limit of {limits.max_bytes}")
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{origin}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})"
        ) from None


def load_yaml(raw: bytes | str, origin: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A YAML (or JSON) document as plain data, within ``limits``."""
    text = decode_text(raw, origin, limits)
    try:
        _scan_yaml(text, origin, limits)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError(f"{origin}: not valid YAML: {exc}") from None
    check_tree(data, origin, limits)
    return data


def load_json(raw: bytes | str, origin: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A JSON document as plain data, within ``limits``."""
    text = decode_text(raw, origin, limits)
    _check_brackets(text, origin, limits)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{origin}: not valid JSON: {exc}") from None
    check_tree(data, origin, limits)
    return data


def _check_brackets(text: str, origin: str, limits: Limits) -> None:
    """Refuse JSON nested deeper than allowed before ``json`` recurses into it.

    Brackets inside strings count too, so this may only overestimate the
    depth of a document that also has a deep string of brackets; such a
    document is not a configuration anyway."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    if deepest > limits.max_depth:
        raise DocumentError(f"{origin}: nested {deepest} levels deep; at most {limits.max_depth}")


def _scan_yaml(text: str, origin: str, limits: Limits) -> None:
    """Walk the YAML events once, refusing what would cost too much to build.

    Tracks each open collection's expanded size; an alias adds the size of
    its anchor, so a "billion laughs" document is refused by arithmetic."""
    open_nodes: list[list[Any]] = []  # [anchor, expanded size, entries]
    anchors: dict[str, int] = {}
    aliases = 0
    total = 0

    def add(size: int) -> None:
        nonlocal total
        total += size
        if total > limits.max_nodes:
            raise DocumentError(f"{origin}: more than {limits.max_nodes} values (aliases expanded)")
        if open_nodes:
            parent = open_nodes[-1]
            parent[1] += size
            parent[2] += 1
            if parent[2] > 2 * limits.max_items:  # a mapping counts keys and values
                raise DocumentError(
                    f"{origin}: a list or mapping has over {limits.max_items} entries"
                )

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > limits.max_aliases:
                raise DocumentError(f"{origin}: more than {limits.max_aliases} aliases")
            if any(node[0] == event.anchor for node in open_nodes):
                raise DocumentError(f"{origin}: alias *{event.anchor} refers to itself")
            if event.anchor not in anchors:
                raise DocumentError(f"{origin}: alias *{event.anchor} has no anchor before it")
            add(anchors[event.anchor])
        elif isinstance(event, yaml.ScalarEvent):
            add(1)
            if event.anchor:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append([event.anchor, 1, 0])
            if len(open_nodes) > limits.max_depth:
                raise DocumentError(f"{origin}: nested over {limits.max_depth} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size, _ = open_nodes.pop()
            if anchor:
                anchors[anchor] = size
            add(size)


def check_tree(data: Any, origin: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse parsed data over the depth or collection-size limits (no recursion)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    seen = 0
    while pending:
        value, depth = pending.pop()
        if not isinstance(value, dict | list):
            continue
        if depth > limits.max_depth:
            raise DocumentError(f"{origin}: nested over {limits.max_depth} levels deep")
        if len(value) > limits.max_items:
            raise DocumentError(
                f"{origin}: a list or mapping has {len(value)} entries; at most {limits.max_items}"
            )
        seen += len(value)
        if seen > limits.max_nodes:
            raise DocumentError(f"{origin}: more than {limits.max_nodes} values")
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children)
