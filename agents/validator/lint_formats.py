"""The lint's findings as text, JSON or SARIF 2.1.0, and the summary by rule.

- text: one ``path:line:col: RULE message; fix`` line per finding (``Finding.__str__``);
- JSON: ``{"findings": [{path, line, column, rule, title, message, fix}...],
  "summary": {rule: count}}``, keys sorted;
- SARIF 2.1.0: one run of the ``sagacrew-lint`` driver with every rule described and one
  result per finding (level ``error``; the message with the fix), so code-scanning tools
  show findings inline. Relative paths are given against ``%SRCROOT%``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from sagacrew.agents.validator.findings import RULES, Finding

Format = Literal["text", "json", "sarif"]
FORMATS: tuple[Format, ...] = ("text", "json", "sarif")
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_HELP = {
    "SAGA-L000": "Fix the syntax or encoding so the file can be read.",
    "SAGA-L001": "A compensation must undo its step (or raise); a handler must handle.",
    "SAGA-L002": "Every message carries correlation_id and causation_id from the message "
    "being handled.",
    "SAGA-L003": "Event names are context.aggregate.past_tense_verb and registered in the "
    "taxonomy.",
    "SAGA-L004": "Wait for a completion event instead of sleeping and re-checking a status.",
}


def summary(findings: Sequence[Finding]) -> str:
    """``3 finding(s): SAGA-L001 ×2 (stub compensation or handler), SAGA-L004 ×1 (...)``."""
    counts = Counter(f.rule for f in findings)
    parts = [f"{rule} ×{counts[rule]} ({RULES.get(rule, rule)})" for rule in sorted(counts)]
    return f"{len(findings)} finding(s): " + ", ".join(parts) if parts else "no findings"


def render(findings: Sequence[Finding], fmt: Format) -> str:
    """The findings in ``fmt`` (text lines, or one JSON/SARIF document), no trailing newline."""
    if fmt == "json":
        return to_json(findings)
    if fmt == "sarif":
        return to_sarif(findings)
    return "\n".join(str(f) for f in findings)


def to_json(findings: Sequence[Finding]) -> str:
    """The findings and their count by rule as one JSON document."""
    document = {
        "findings": [
            {
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "rule": f.rule,
                "title": RULES.get(f.rule, ""),
                "message": f.message,
                "fix": f.fix,
            }
            for f in findings
        ],
        "summary": dict(sorted(Counter(f.rule for f in findings).items())),
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


def to_sarif(findings: Sequence[Finding]) -> str:
    """The findings as a SARIF 2.1.0 log with one run."""
    rule_ids = sorted(RULES)
    rules = [
        {
            "id": rule,
            "name": _pascal(RULES[rule]),
            "shortDescription": {"text": RULES[rule]},
            "help": {"text": _HELP.get(rule, RULES[rule])},
            "defaultConfiguration": {"level": "error"},
        }
        for rule in rule_ids
    ]
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": rule_ids.index(f.rule),
            "level": "error",
            "message": {"text": f"{f.message}; {f.fix}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(f.path),
                        "region": {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)},
                    }
                }
            ],
        }
        for f in findings
    ]
    log: dict[str, Any] = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sagacrew-lint",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)


def _artifact(path: str) -> dict[str, str]:
    file = Path(path)
    if not file.is_absolute():
        return {"uri": file.as_posix(), "uriBaseId": "%SRCROOT%"}
    try:
        return {"uri": file.relative_to(Path.cwd()).as_posix(), "uriBaseId": "%SRCROOT%"}
    except ValueError:
        return {"uri": file.as_uri()}


def _pascal(title: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in title.replace("/", " ").split())
