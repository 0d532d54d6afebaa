"""SAGA-L001: stub compensations and handlers (the seed's GAP-001..003)."""

from pathlib import Path

from sagacrew.agents.validator import Finding
from sagacrew.agents.validator import lint_path
from sagacrew.agents.validator import lint_source

DATA = Path(__file__).parent / "data" / "lint"


def _rules_and_lines(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in findings]


def test_seed_stub_compensations_and_handlers_are_reported_at_their_def_lines() -> None:
    findings = lint_path(DATA / "stub_compensations.py")
    assert _rules_and_lines(findings) == [
        ("SAGA-L001", 12),
        ("SAGA-L001", 18),
        ("SAGA-L001", 25),
        ("SAGA-L001", 29),
        ("SAGA-L001", 33),
        ("SAGA-L001", 49),
    ]


def test_seed_todo_compensation_message_names_the_function_and_the_todo() -> None:
    first = lint_path(DATA / "stub_compensations.py")[0]
    assert first.message == (
        "compensation compensate_dispatch_training() is a stub: it only logs and returns "
        "a fixed result (left with a to-do marker)"
    )
    assert first.fix == "perform the undo (e.g. call the delete/release/cancel command) or raise"
    assert first.column == 1


def test_todo_compensation_returning_its_input_unchanged_is_a_stub() -> None:
    second = lint_path(DATA / "stub_compensations.py")[1]
    assert "returns its input unchanged" in second.message


def test_function_passed_as_compensation_keyword_is_checked_whatever_its_name() -> None:
    messages = [f.message for f in lint_path(DATA / "stub_compensations.py")]
    assert "compensation remove_membership() is a stub: it does nothing" in messages


def test_handler_stub_gets_the_handler_fix() -> None:
    handler = lint_path(DATA / "stub_compensations.py")[4]
    assert handler.message.startswith("handler on_ticket_created()")
    assert handler.fix.startswith("handle the message")


def test_compensation_lambda_returning_none_is_reported_at_the_lambda() -> None:
    lam = lint_path(DATA / "stub_compensations.py")[5]
    assert (lam.line, lam.column) == (49, 62)


def test_decorated_compensation_that_only_logs_is_reported() -> None:
    source = (
        "import logging\n"
        "log = logging.getLogger(__name__)\n"
        "@saga.compensation('reserve_stock')\n"
        "def put_back(ctx):\n"
        "    log.info('put back')\n"
        "    return True\n"
    )
    assert _rules_and_lines(lint_source(source)) == [("SAGA-L001", 4)]


def test_compensation_assigned_to_an_attribute_is_checked() -> None:
    source = "def noop(ctx):\n    return None\n\nstep.compensation = noop\n"
    assert _rules_and_lines(lint_source(source)) == [("SAGA-L001", 1)]


def test_compensation_with_todo_that_does_work_is_not_a_stub() -> None:
    source = (
        "def release_stock(ctx, result):\n"
        "    # TODO: batch the releases\n"
        "    ctx.inventory.release(result['sku'], result['amount'])\n"
        "    return {'ok': True}\n"
    )
    assert lint_source(source) == []


def test_protocol_method_with_ellipsis_body_is_an_interface_not_a_stub() -> None:
    source = (
        "from typing import Protocol\n"
        "class Gateway(Protocol):\n"
        "    def cancel(self, job_id: str) -> None: ...\n"
    )
    assert lint_source(source) == []
