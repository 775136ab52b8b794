"""Issue 16: every document from outside is refused with one clear line,
before it costs more than a bounded amount of work (the reproductions of
the issue, each of which raised a traceback or took 20 s before)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from occusense.config import load_config, parse_config
from occusense.config.io import read_document
from occusense.documents import DocumentError, Limits, load_json, load_yaml
from occusense.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (REPO / "examples" / "vtest.yaml").read_bytes()


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "occusense.cli", "config", "validate", str(path)],
        capture_output=True, text=True, check=False, cwd=REPO,
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"version: 1\nsource:\n  uri: \xff\n", "not UTF-8 text (byte 0xff at offset 26)"),
        (b"version: 1\nrec: &r [*r]\n", "alias *r refers to itself"),
        (("deep: " + "[" * 500 + "]" * 500).encode(), "nested over 32 levels deep"),
    ],
    ids=["non-utf8", "recursive-alias", "deep-nesting"],
)
def test_config_validate_names_the_problem_without_a_traceback(tmp_path, content, says):
    path = tmp_path / "r.yaml"
    path.write_bytes(content)
    done = validate(path)
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_fifty_thousand_regions_are_refused_by_size_before_parsing(tmp_path):
    lines = ["version: 1", "region_counting:", "  regions:"]
    lines += ["  - points: [[0.1, 0.1], [0.2, 0.1], [0.2, 0.2]]"] * 50_000
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines))
    with pytest.raises(ConfigError, match="larger than the limit of 1048576 bytes"):
        load_config(path)


def test_a_long_list_under_the_byte_limit_is_refused_by_its_length():
    text = "region_counting:\n  regions:\n" + "  - {points: []}\n" * 5000
    with pytest.raises(ConfigError, match="over 256 entries"):
        read_document(text, "import")


def test_billion_laughs_is_refused_by_arithmetic_not_by_building_it():
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(DocumentError, match="aliases expanded"):
        load_yaml("\n".join(lines), "laughs")


def test_an_alias_without_an_anchor_is_refused():
    with pytest.raises(DocumentError, match=r"origin: alias \*nowhere has no anchor before it"):
        load_yaml("a: *nowhere\n", "origin")


def test_deep_json_is_refused_before_json_recurses():
    with pytest.raises(DocumentError, match="nested 100000 levels deep"):
        load_json("[" * 100_000 + "]" * 100_000, "body")


def test_aliases_within_the_limits_still_load():
    data = load_yaml("base: &p [0.1, 0.2]\nother: *p\n", "ok")
    assert data == {"base": [0.1, 0.2], "other": [0.1, 0.2]}


@pytest.mark.parametrize("value", [False, True])
def test_a_boolean_is_not_a_coordinate(value):
    with pytest.raises(ConfigError, match=r"line_crossing\.line\.points"):
        parse_config({"line_crossing": {"line": {"points": [[0.5, value], [0.5, 0.9]]}}})


def test_a_boolean_is_not_a_number_but_stays_a_boolean_where_one_is_meant():
    with pytest.raises(ConfigError, match=r"mounting\.inner_radius: .*true/false is not valid"):
        parse_config({"mounting": {"inner_radius": False}})
    assert parse_config({"source": {"realtime": True}}).source.realtime is True
    assert parse_config({"mounting": {"inner_radius": 0}}).mounting.inner_radius == 0


def test_the_limits_are_settable_for_other_documents():
    with pytest.raises(DocumentError, match="10 bytes is over the limit of 4"):
        load_json("[1,2,3,4] ", "x", Limits(max_bytes=4))


# ------------------------------------------------------------------ fuzzing
def _mutations() -> st.SearchStrategy[bytes]:
    """The example config with bytes replaced, inserted or cut out."""

    @st.composite
    def mutate(draw) -> bytes:
        data = bytearray(EXAMPLE)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data)))
            kind = draw(st.sampled_from(["replace", "insert", "delete"]))
            chunk = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
                [b"&a", b"*a", b"[", b"{", b"- ", b": ", b"true", b"-1e400", b"\t", b"\xff"]))
            if kind == "insert":
                data[at:at] = chunk
            elif kind == "replace":
                data[at : at + len(chunk)] = chunk
            else:
                del data[at : at + len(chunk)]
        return bytes(data)

    return mutate()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_fuzz_config_documents_give_a_config_or_a_config_error(raw):
    try:
        read_document(raw, "fuzz")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz")


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["version", "source", "mounting", "region_counting",
                                        "line_crossing", "users", "detector", "web"]),
                       json_values, max_size=4))
def test_fuzz_config_values_give_a_config_or_a_config_error(data):
    try:
        parse_config(data, "fuzz")
    except ConfigError:
        pass
