"""SAGA-L002: sends without correlation_id/causation_id (the seed's GAP-004, DRIFT-004)."""

from pathlib import Path

from sagacrew.agents.validator import lint_path
from sagacrew.agents.validator import lint_source

DATA = Path(__file__).parent / "data" / "lint"


def test_seed_magic_link_call_and_nil_causation_are_reported_with_the_missing_ids() -> None:
    findings = lint_path(DATA / "missing_ids.py")
    assert [(f.rule, f.line, f.message) for f in findings] == [
        ("SAGA-L002", 13, "call to send_magic_link() without correlation_id and causation_id"),
        ("SAGA-L002", 17, "call to publish_event() with causation_id set to None or empty"),
        ("SAGA-L002", 28, "call to publish() without causation_id"),
        ("SAGA-L002", 32, "call to Envelope() without causation_id"),
        ("SAGA-L002", 36, "call to ask() without correlation_id and causation_id"),
    ]


def test_id_passed_as_none_or_empty_is_reported() -> None:
    source = "bus.emit('x', {}, correlation_id='', causation_id=None)\n"
    [finding] = lint_source(source)
    assert finding.message == (
        "call to emit() with causation_id and correlation_id set to None or empty"
    )


def test_self_context_receiver_carries_the_ids() -> None:
    source = "self.context.send('kitchen.ticket', 'create', {'id': 1})\n"
    assert lint_source(source) == []


def test_single_message_object_argument_is_not_reported() -> None:
    assert lint_source("ref.tell(message)\nqueue.send(item)\n") == []


def test_dict_literal_message_without_ids_is_reported() -> None:
    [finding] = lint_source("bus.dispatch({'type': 'create_ticket'})\n")
    assert (finding.rule, finding.line, finding.column) == ("SAGA-L002", 1, 1)
