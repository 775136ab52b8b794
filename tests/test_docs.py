"""The committed config reference is generated from the model; keep them in step."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO


def test_config_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen", REPO / "tools" / "gen_config_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (REPO / "docs" / "config-reference.md").read_text()
    assert committed == module.render(), "run: .venv/bin/python tools/gen_config_docs.py"
