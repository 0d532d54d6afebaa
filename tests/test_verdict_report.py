"""Verdict figures and reports, from hand-built verdicts (no database)."""

import json
from pathlib import Path

import pytest

from sagacrew.agents.validator import CheckResult
from sagacrew.agents.validator import Gate
from sagacrew.agents.validator import ReportError
from sagacrew.agents.validator import Verdict
from sagacrew.agents.validator import percentile_nearest_rank
from sagacrew.agents.validator import write_reports
from sagacrew.agents.validator.metrics import consistency_score


def _verdict(**changes: object) -> Verdict:
    fields: dict[str, object] = {
        "system": "ml_training",
        "profile": "dev",
        "sagas_total": 40,
        "success_rate": 0.925,
        "step_latency_p95_ms": 150.25,
        "step_latency_p99_ms": 612.0,
        "consistency_score": 0.96,
        "gates": [
            Gate("success_rate", 0.925, 0.9, ">=", True, "ratio"),
            Gate("step_latency_p95_ms", 150.25, 200.0, "<=", True, "ms"),
            Gate("step_latency_p99_ms", 612.0, 500.0, "<=", False, "ms"),
            Gate("consistency_score", 0.96, 0.95, ">=", True, "ratio"),
        ],
        "checks": [
            CheckResult("completed_sagas_have_all_steps", "All steps.", 37, []),
            CheckResult(
                "compensated_steps_in_reverse_order",
                "Reverse | order.",
                3,
                ["R-1", "R-2", "R-3", "R-4", "R-5", "R-6"],
                violation_count=9,
            ),
        ],
        "failed_sagas": ["R-1", "R-2"],
        "passed": False,
        "lint_findings": ["saga.py:9:5: SAGA-L004 polling loop; wait for the event"],
    }
    fields.update(changes)
    return Verdict(**fields)  # type: ignore[arg-type]


def test_nearest_rank_percentiles_match_the_textbook_example() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert [percentile_nearest_rank(values, p) for p in (5, 30, 40, 50, 100)] == [
        15.0,
        20.0,
        20.0,
        35.0,
        50.0,
    ]


def test_percentiles_of_one_to_a_hundred_are_exact_and_empty_is_zero() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile_nearest_rank(values, 95) == 95.0
    assert percentile_nearest_rank(values, 99) == 99.0
    assert percentile_nearest_rank([], 95) == 0.0
    assert percentile_nearest_rank([7.0], 99) == 7.0


def test_consistency_score_is_one_without_subjects_and_clamped_at_zero() -> None:
    assert consistency_score(0, 0) == 1.0
    assert consistency_score(200, 1) == pytest.approx(0.995)
    assert consistency_score(2, 5) == 0.0


def test_check_result_counts_its_violations_when_no_count_is_given() -> None:
    assert CheckResult("c", "d", 4, ["a", "b"]).violation_count == 2
    assert CheckResult("c", "d", 4, ["a"], violation_count=30).violation_count == 30


def test_json_report_has_sorted_keys_and_is_byte_stable() -> None:
    text = _verdict().to_json()
    assert text == _verdict().to_json()
    assert text.endswith("\n")
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["gates"][2] == {
        "comparison": "<=",
        "measured": 612.0,
        "name": "step_latency_p99_ms",
        "passed": False,
        "threshold": 500.0,
        "unit": "ms",
    }
    assert data["checks"][1]["violation_count"] == 9


def test_markdown_report_shows_gates_checks_failing_sagas_and_lint() -> None:
    text = _verdict().to_markdown()
    assert text.startswith("# Consistency verdict: ml_training (dev)\n")
    assert (
        "**FAILED**: 3 of 4 gates passed, 1 lint finding(s), 2 failing saga(s) out of 40." in text
    )
    assert "| success_rate | 92.50 % | >= 90.00 % | PASS |" in text
    assert "| step_latency_p99_ms | 612.0 ms | <= 500.0 ms | FAIL |" in text
    assert "| completed_sagas_have_all_steps | 37 | 0 |  |" in text
    assert (
        "| compensated_steps_in_reverse_order | 3 | 9 | `R-1`, `R-2`, `R-3`, `R-4`, `R-5`, ... |"
    ) in text
    assert "- **compensated_steps_in_reverse_order**: Reverse \\| order." in text
    assert "- `R-1`\n- `R-2`\n" in text
    assert "- `saga.py:9:5: SAGA-L004 polling loop; wait for the event`" in text


def test_markdown_report_of_a_clean_run_says_none_and_passed() -> None:
    text = _verdict(failed_sagas=[], lint_findings=[], passed=True).to_markdown()
    assert "**PASSED**" in text
    assert text.count("None.") == 2


def test_markdown_lists_at_most_fifty_failing_sagas() -> None:
    sagas = [f"S-{n:03d}" for n in range(60)]
    text = _verdict(failed_sagas=sagas).to_markdown()
    assert "`S-049`" in text and "`S-050`" not in text
    assert "- ... and 10 more (see verdict.json)" in text


def test_write_reports_creates_the_folder_and_returns_markdown_then_json(tmp_path: Path) -> None:
    markdown, report = write_reports(_verdict(), tmp_path / "reports" / "dev")
    assert (markdown.name, report.name) == ("verdict.md", "verdict.json")
    assert markdown.read_text(encoding="utf-8") == _verdict().to_markdown()
    assert report.read_text(encoding="utf-8") == _verdict().to_json()


def test_write_reports_into_a_file_path_raises_report_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(ReportError, match="cannot write the report"):
        write_reports(_verdict(), blocker)
