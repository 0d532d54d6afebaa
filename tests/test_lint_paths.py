"""The lint's entry points: files, folders, syntax errors, suppressions, finding text."""

from pathlib import Path

import pytest

from sagacrew.agents.validator import RULES
from sagacrew.agents.validator import Finding
from sagacrew.agents.validator import LintError
from sagacrew.agents.validator import lint_path
from sagacrew.agents.validator import lint_source

DATA = Path(__file__).parent / "data" / "lint"


def test_finding_str_is_path_line_col_rule_message_and_fix() -> None:
    finding = Finding("saga.py", 3, 5, "SAGA-L004", "polling loop", "wait for the event")
    assert str(finding) == "saga.py:3:5: SAGA-L004 polling loop; wait for the event"


def test_folder_is_linted_recursively_in_sorted_file_order(tmp_path: Path) -> None:
    (tmp_path / "b.py").write_text("def undo_b(ctx):\n    pass\n", encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("def undo_a(ctx):\n    pass\n", encoding="utf-8")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "c.py").write_text("def undo_c(ctx):\n    pass\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("def undo_d(ctx):\n    pass\n", encoding="utf-8")
    findings = lint_path(tmp_path)
    assert [Path(f.path).relative_to(tmp_path).as_posix() for f in findings] == [
        "b.py",
        "pkg/a.py",
    ]


@pytest.mark.parametrize(
    "sample",
    [
        # context sends, envelopes, explicit ids and **kwargs spreads
        "ids_present.py",
        # the code of shapes.py done right
        "shapes_clean.py",
        # real undo interfaces, compensations that raise, handlers that work
        "real_compensations.py",
        # a compensation that logs and undoes, a multi-clause undo, a retry with backoff, a
        # heartbeat loop, ids from the input (with a uuid fallback), Process.send_after
        "elixir/clean.ex",
    ],
)
def test_samples_done_right_report_nothing(sample: str) -> None:
    assert lint_path(DATA / sample) == []


def test_sample_folder_reports_every_rule_in_file_order() -> None:
    findings = lint_path(DATA)
    files = [Path(f.path).relative_to(DATA).as_posix() for f in findings]
    assert files == sorted(files)
    assert {f.rule for f in findings} == {"SAGA-L001", "SAGA-L002", "SAGA-L003", "SAGA-L004"}
    assert {Path(f.path).suffix for f in findings} == {".py", ".ex"}


def test_syntax_error_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def compensate(:\n    pass\n", encoding="utf-8")
    [finding] = lint_path(broken)
    assert (finding.rule, finding.line) == ("SAGA-L000", 1)
    assert finding.message.startswith("cannot parse the file:")


def test_undecodable_file_is_a_finding(tmp_path: Path) -> None:
    bad = tmp_path / "latin.py"
    bad.write_bytes(b"name = '\xff\xfe'\n")
    [finding] = lint_path(bad)
    assert finding.rule == "SAGA-L000"


def test_missing_path_raises_lint_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(LintError, match="no such file or directory"):
        lint_path(tmp_path / "nowhere")


def test_allow_comment_suppresses_only_the_named_rule_on_that_line() -> None:
    source = (
        "import time\n"
        "def wait(job):\n"
        "    while job.status != 'done':  # sagacrew: allow SAGA-L004 demo only\n"
        "        time.sleep(1)\n"
        "    while job.status != 'done':  # sagacrew: allow SAGA-L001\n"
        "        time.sleep(1)\n"
    )
    assert [(f.rule, f.line) for f in lint_source(source)] == [("SAGA-L004", 5)]


def test_allow_comment_may_list_several_rules() -> None:
    source = "def undo(ctx):  # sagacrew: allow SAGA-L002, SAGA-L001 tested elsewhere\n    pass\n"
    assert lint_source(source) == []


def test_every_rule_has_a_title() -> None:
    assert sorted(RULES) == ["SAGA-L000", "SAGA-L001", "SAGA-L002", "SAGA-L003", "SAGA-L004"]
