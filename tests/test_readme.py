"""The README's spec example is a valid spec (documentation that cannot rot silently)."""

from __future__ import annotations

import re
from pathlib import Path

from sagacrew.agents.spec import parse_spec

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_spec_example_loads() -> None:
    text = README.read_text("utf-8")
    block = re.search(r"## The spec, in short\n\n```yaml\n(.*?)```", text, re.S)
    assert block is not None, "the README lost its spec example"
    spec = parse_spec(block.group(1), "README.md")
    assert spec.sagas["create_order"].steps[1].pivot
