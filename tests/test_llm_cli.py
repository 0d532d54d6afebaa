"""`sagacrew generate --llm` end to end: the real CLI, crewAI and OpenAI client, against a
local fake OpenAI-compatible server; accepted proposals land in the generated files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI
from tests.test_llm_crew import VALID

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_generate_with_llm_merges_valid_proposals_and_reports_them(tmp_path: Path) -> None:
    hostile = {
        **VALID,
        "EventProposal": {
            "descriptions": [{"name": "ordering.order.created", "description": 'ok"""; import os'}]
        },
    }
    with FakeOpenAI(hostile) as server:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sagacrew.crew.cli",
                "generate",
                str(ROOT / "examples" / "order_fulfilment.yaml"),
                "-o",
                str(tmp_path / "out"),
                "--no-flow",
                "--llm",
                "--llm-base-url",
                server.base_url,
                "--llm-model",
                "fake-model",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "OPENAI_API_KEY": "test-key"},
            cwd=ROOT,
        )
        assert server.requests, "the CLI never reached the endpoint"
    assert done.returncode == 0, done.stderr[-2000:]
    assert "llm: accepted actors: description of actor 'ordering.order'" in done.stdout
    assert "llm: rejected events: description of event 'ordering.order.created'" in done.stderr
    actors = (tmp_path / "out" / "order_fulfilment" / "actors.py").read_text("utf-8")
    assert "Owns each order's lifecycle" in actors
    code = [p.read_text("utf-8") for p in (tmp_path / "out" / "order_fulfilment").rglob("*.py")]
    assert code and not any('"""; import os' in text for text in code)
