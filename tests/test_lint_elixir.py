"""The lint reads the seed's own language: Elixir sagas (Ash Reactor) and plain modules.

The samples under ``data/lint/elixir`` are written after the seed's tracker: GAP-001..003
(stub compensations), GAP-004 (the magic-link call without ids), GAP-005/006 (to-do
placeholders), GAP-007 (the 5-second polling loop), DRIFT-003 (``ml.run.complete``) and
DRIFT-004 (``causation_id: nil``); ``clean.ex`` is the same done right.
"""

from pathlib import Path

import pytest

from sagacrew.agents.validator import Finding
from sagacrew.agents.validator import lint_path
from sagacrew.agents.validator import lint_source

DATA = Path(__file__).parent / "data" / "lint" / "elixir"


def _found(name: str) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in lint_path(DATA / name)]


def test_cerebros_saga_gap_001_005_007_and_drift_003_004_are_caught() -> None:
    assert _found("cerebros_nas_saga.ex") == [
        ("SAGA-L001", 20),  # GAP-001: compensate only logs, returns {:ok, :compensated}
        ("SAGA-L001", 41),  # GAP-005: to-do marker, then only a log and the input
        ("SAGA-L002", 55),  # DRIFT-004: causation_id: nil
        ("SAGA-L003", 56),  # DRIFT-003: ml.run.complete
        ("SAGA-L004", 69),  # GAP-007: Stream.iterate |> Enum.reduce_while + Process.sleep
    ]


def test_upm_saga_gap_002_006_and_a_fresh_correlation_id_are_caught() -> None:
    assert _found("upm_activation_saga.ex") == [
        ("SAGA-L001", 15),  # GAP-006: to-do marker over a hardcoded auto-approval
        ("SAGA-L001", 34),  # GAP-002
        ("SAGA-L002", 47),  # DRIFT-004 plus a fresh UUID.uuid4() correlation id
    ]
    ids = lint_path(DATA / "upm_activation_saga.ex")[2]
    assert "causation_id set to nil" in ids.message
    assert "freshly generated correlation_id" in ids.message


def test_user_provisioning_saga_gap_003_004_and_drift_001_are_caught() -> None:
    assert _found("user_provisioning_saga.ex") == [
        ("SAGA-L002", 16),  # GAP-004: send_magic_link(email, token, redirect)
        ("SAGA-L001", 34),  # GAP-003
        ("SAGA-L002", 46),  # Event.new(..., causation_id: nil)
        ("SAGA-L003", 47),  # user.onboarding.complete
    ]
    magic = lint_path(DATA / "user_provisioning_saga.ex")[0]
    assert magic.message == (
        "call to MagicLinkSender.send_magic_link() without correlation_id and causation_id"
    )
    assert magic.column == 12


def test_plain_module_defects_are_caught_too() -> None:
    assert _found("plain_module.ex") == [
        ("SAGA-L001", 5),  # def undo_reservation: logs, returns :ok
        ("SAGA-L002", 11),  # handle_event publishes with Ecto.UUID.generate()
        ("SAGA-L002", 19),  # deliver_receipt(email, total): no ids
        ("SAGA-L004", 22),  # recursive wait with :timer.sleep and a state check
    ]


def test_messages_name_the_step_the_todo_and_the_suggested_name() -> None:
    first, placeholder, _, name, polling = lint_path(DATA / "cerebros_nas_saga.ex")
    assert first.message == (
        "compensate of step :dispatch_training is a stub: it only logs and returns "
        "{:ok, :compensated} (left with a to-do marker)"
    )
    assert (first.column, placeholder.column) == (5, 9)
    assert name.fix.startswith("did you mean 'ml.run.completed'?")
    assert polling.message == "polling loop: sleeps (line 75) and re-checks a status"


def test_taxonomy_applies_to_elixir_event_names() -> None:
    findings = lint_path(DATA / "cerebros_nas_saga.ex", taxonomy={"ml.run.completed"})
    [name] = [f for f in findings if f.rule == "SAGA-L003"]
    assert name.fix == "use the registered name 'ml.run.completed'"


@pytest.mark.parametrize(
    "source",
    [
        'defmodule M do\n  def ok(%{name: "orders.order.placed"} = e), do: e\nend\n',
        "defmodule M do\n  def tick(s), do: Process.send_after(self(), :tick, 10)\nend\n",
        'defmodule M do\n  def r(c), do: send_resp(c, 200, "ok")\nend\n',
    ],
)
def test_patterns_process_sends_and_plug_responses_are_not_messages(source: str) -> None:
    assert lint_source(source, "m.ex") == []


def test_allow_comment_suppresses_an_elixir_finding() -> None:
    source = (
        "defmodule M do\n"
        "  def undo_it(_x) do  # sagacrew: allow SAGA-L001 nothing to undo here\n"
        "    :ok\n"
        "  end\n"
        "end\n"
    )
    assert lint_source(source, "m.ex") == []
    assert [f.rule for f in lint_source(source.replace("allow", "x"), "m.ex")] == ["SAGA-L001"]


def test_elixir_syntax_error_is_one_finding(tmp_path: Path) -> None:
    broken = tmp_path / "broken.exs"
    broken.write_text("defmodule M do\n  def f(x do\nend\n", encoding="utf-8")
    [finding] = lint_path(broken)
    assert finding.rule == "SAGA-L000"
    assert finding.message.startswith("cannot parse the file: syntax error")


def test_folder_lints_python_and_elixir_together(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def undo_a(ctx):\n    pass\n", encoding="utf-8")
    (tmp_path / "b.ex").write_text(
        "defmodule B do\n  def undo_b(_), do: :ok\nend\n", encoding="utf-8"
    )
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "c.ex").write_text(
        "defmodule C do\n  def undo_c(_), do: :ok\nend\n", encoding="utf-8"
    )
    findings: list[Finding] = lint_path(tmp_path)
    assert [(Path(f.path).name, f.line) for f in findings] == [("a.py", 1), ("b.ex", 2)]
