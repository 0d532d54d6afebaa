"""The lint's output: text lines, JSON, SARIF 2.1.0 (validated against the OASIS schema),
a summary by rule, and the CLI's exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from sagacrew.agents.validator import Finding
from sagacrew.agents.validator import lint_path
from sagacrew.agents.validator import render
from sagacrew.agents.validator import summary

DATA = Path(__file__).parent / "data" / "lint"
SCHEMA = DATA / "sarif-schema-2.1.0.json"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sagacrew.crew.cli", "lint", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_sarif_output_validates_against_the_sarif_2_1_0_schema() -> None:
    findings = lint_path(DATA)
    log = json.loads(render(findings, "sarif"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(log, schema, cls=jsonschema.Draft4Validator)
    results = log["runs"][0]["results"]
    assert len(results) == len(findings)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    first = results[0]
    assert rules[first["ruleIndex"]]["id"] == first["ruleId"] == findings[0].rule
    region = first["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (findings[0].line, findings[0].column)


def test_sarif_of_no_findings_validates_too() -> None:
    log = json.loads(render([], "sarif"))
    jsonschema.validate(log, json.loads(SCHEMA.read_text("utf-8")), cls=jsonschema.Draft4Validator)
    assert log["runs"][0]["results"] == []


def test_json_output_lists_findings_and_counts_by_rule() -> None:
    findings = [
        Finding("a.ex", 3, 5, "SAGA-L001", "stub", "undo"),
        Finding("a.ex", 9, 1, "SAGA-L004", "polling", "wait"),
        Finding("b.py", 1, 1, "SAGA-L001", "stub", "undo"),
    ]
    document = json.loads(render(findings, "json"))
    assert document["summary"] == {"SAGA-L001": 2, "SAGA-L004": 1}
    assert document["findings"][1] == {
        "path": "a.ex",
        "line": 9,
        "column": 1,
        "rule": "SAGA-L004",
        "title": "polling loop instead of a completion event",
        "message": "polling",
        "fix": "wait",
    }
    assert summary(findings).startswith("3 finding(s): SAGA-L001 ×2 (stub compensation")
    assert summary([]) == "no findings"


def test_cli_text_prints_findings_and_the_summary_and_exits_1() -> None:
    done = _cli(str(DATA / "elixir" / "plain_module.ex"))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"{DATA / 'elixir' / 'plain_module.ex'}:5:3: SAGA-L001 ")
    assert "4 finding(s): SAGA-L001 ×1" in done.stderr


def test_cli_sarif_and_json_print_one_document_and_exit_1() -> None:
    sarif = _cli(str(DATA / "shapes.py"), "--format", "sarif")
    assert sarif.returncode == 1
    assert json.loads(sarif.stdout)["version"] == "2.1.0"
    clean = _cli(str(DATA / "elixir" / "clean.ex"), "--format", "json")
    assert clean.returncode == 0, clean.stdout
    assert json.loads(clean.stdout) == {"findings": [], "summary": {}}


def test_cli_rejects_an_unknown_format_in_one_line() -> None:
    done = _cli(str(DATA), "--format", "xml")
    assert done.returncode == 2
    assert done.stderr.strip() == ("sagacrew: unknown --format 'xml'; use one of text, json, sarif")
