"""Counting accuracy on every real sequence of ../shared/data, as a markdown
table for bench/RESULTS.md (the same as ``occusense eval --suite``).

    .venv/bin/python bench/eval_accuracy.py [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from occusense.evaluation.suite import markdown, run_suite

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    results = run_suite(args.data)
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
