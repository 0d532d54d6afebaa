"""Spec forms for real domains: custom compensations, read-only external calls, event
names a taxonomy fixes, and workloads whose gates cannot pass. Each: the valid form,
invalid forms with position and fix, what the agents make of it, and what the generated
code does at run time."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_systems import compensated_after_refusal
from spec_systems import generated_system

from sagacrew.agents.spec import SpecError
from sagacrew.agents.spec import parse_spec
from sagacrew.crew.emit.system import emit_files
from sagacrew.crew.pipeline import design
from sagacrew.runtime import SagaState
from sagacrew.runtime import SystemDefinition
from sagacrew.runtime import open_store
from sagacrew.runtime.testing import run_one_saga
from tests.test_spec_rules import at
from tests.test_spec_rules import changed
from tests.test_spec_rules import error_at
from tests.test_spec_rules import only_error
from tests.test_spec_rules import position

SPEC = (Path(__file__).parent / "data" / "specs" / "ftgo.yaml").read_text("utf-8")


def spec_with(old: str, new: str) -> str:
    """``SPEC`` with ``old`` (which must be in it) replaced by ``new``."""
    return changed(old, new, SPEC)


def order_events(store_url: str) -> list[str]:
    """The event types of the one order in the store at ``store_url``, in order."""
    with open_store(store_url) as store:
        (order,) = store.stream_ids("ordering.order")
        return [e.event_type for e in store.read_stream(order)]


def test_the_sample_with_a_custom_compensation_and_a_query_operation_is_valid() -> None:
    spec = parse_spec(SPEC, "s.yaml")
    steps = spec.sagas["place_order"].steps
    assert steps[0].compensate_with == "ordering.order.reject_order"
    assert spec.externals["policy"].operations["check_limit"].kind == "query"


@pytest.mark.parametrize(
    ("custom", "message", "fix"),
    [
        (
            "ordering.order.reject_ordr",
            "step 'create_order' compensates with unknown 'ordering.order.reject_ordr'",
            "did you mean 'ordering.order.reject_order'?",
        ),
        (
            "payments.refund",
            "step 'create_order' writes ordering.order but would be compensated on payments",
            "compensate with a command of ordering.order",
        ),
        (
            "ordering.order.create_order",
            "step 'create_order' cannot be compensated by its own command",
            "name the command of ordering.order that reverses it",
        ),
    ],
)
def test_a_wrong_compensate_with_is_an_error_at_its_place(
    custom: str, message: str, fix: str
) -> None:
    text = spec_with("compensate_with: ordering.order.reject_order", f"compensate_with: {custom}")
    error = only_error(text)
    line, column = position(text, f"compensate_with: {custom}")
    assert at(error) == (line, column + len("compensate_with: "))
    assert error.message.startswith(message)
    assert error.fix.startswith(fix)


def test_a_query_operation_cannot_declare_an_undo() -> None:
    text = spec_with(
        "{kind: query, params: [total_cents]}", "{kind: query, undo: forget}\n      forget: {}"
    )
    error = error_at(text, "forget}")
    assert "is a query, which changes nothing to undo" in error.message
    assert error.fix == "remove `undo:`, or make it `kind: command`"


def test_a_command_operation_before_the_pivot_still_needs_an_undo() -> None:
    error = only_error(spec_with("{kind: query, params: [total_cents]}", "{params: []}"))
    assert error.message.startswith("step 'check_limit' comes before the pivot 'charge'")


def test_a_business_failure_rate_over_the_gate_is_a_warning_at_its_place() -> None:
    text = SPEC + "workload: {business_failure_rate: 0.2}\n"
    warnings: list[SpecError] = []
    parse_spec(text, "s.yaml", warnings)
    (warning,) = [w for w in warnings if "business_failure_rate" in w.message]
    assert at(warning) == position(text, "0.2")
    assert warning.message.endswith(
        "at most 80.0% complete: the success_rate_min gate (dev 90.0%, prod 99.5%) cannot pass"
    )
    assert warning.fix.startswith("lower it to at most 0.1 for dev, 0.005 for prod")


def test_the_agents_record_the_custom_compensation_and_the_read_only_call() -> None:
    saga = design(parse_spec(SPEC, "s.yaml"), "s.yaml").sagas
    assert saga is not None
    create, check, charge, _ = saga.sagas[0].steps
    assert create.compensation is not None
    assert (create.compensation.kind, create.compensation.command) == ("custom", "reject_order")
    assert [e.key for e in create.compensation.payload or []] == ["order_id", "undoes"]
    assert (check.kind.value, check.compensation, check.compensatable) == ("query", None, True)
    assert charge.compensation is not None and charge.compensation.command == "refund"


@pytest.fixture(scope="module")
def ftgo(tmp_path_factory: pytest.TempPathFactory) -> SystemDefinition:
    build, code = generated_system(SPEC, tmp_path_factory.mktemp("ftgo"), "ftgo")
    assert 'compensation=Undo("ordering.order", "reject_order", "order_id")' in code
    assert 'Send("policy", "check_limit", "total_cents"),\n            read_only=True' in code
    return build


def test_a_refused_saga_rejects_its_order_instead_of_deleting_it(
    ftgo: SystemDefinition, sqlite_url: str
) -> None:
    compensated = compensated_after_refusal(ftgo, sqlite_url, "place_order", "charge")
    assert compensated == ["create_order"]  # the query needs no undo
    assert order_events(sqlite_url) == ["ordering.order.created", "ordering.order.rejected"]


def test_a_refusal_at_the_query_compensates_with_the_custom_command(
    ftgo: SystemDefinition, sqlite_url: str
) -> None:
    compensated = compensated_after_refusal(ftgo, sqlite_url, "place_order", "check_limit")
    assert compensated == ["create_order"]


def test_an_explicit_event_name_is_registered_and_emitted(
    ftgo: SystemDefinition, sqlite_url: str
) -> None:
    blueprint = design(parse_spec(SPEC, "s.yaml"), "s.yaml")
    assert blueprint.events is not None
    assert "ftgo.order.accepted" in [e.name for e in blueprint.events.events]
    result, _ = run_one_saga(ftgo, sqlite_url, "place_order")
    assert result.state == SagaState.COMPLETED, result.error
    assert order_events(sqlite_url) == ["ordering.order.created", "ftgo.order.accepted"]


@pytest.mark.parametrize(
    ("name", "message", "fix"),
    [
        (
            "ftgo.order.accept",
            "event 'ftgo.order.accept' does not end in a past-tense verb",
            "name what happened: did you mean ftgo.order.accepted?",
        ),
        (
            "ordering.order.rejected",
            "command 'approve_order' emits event 'ordering.order.rejected', already emitted by "
            "command 'reject_order'",
            None,
        ),
    ],
)
def test_a_wrong_explicit_event_name_is_an_error_at_its_place(
    name: str, message: str, fix: str | None
) -> None:
    text = spec_with("event: ftgo.order.accepted}", f"event: {name}}}")
    error = error_at(text, name)
    assert error.message == message
    if fix is not None:
        assert error.fix == fix


def test_on_timeout_is_generated_and_refused_after_the_pivot() -> None:
    text = spec_with(
        "{name: check_limit, invoke: policy.check_limit}",
        "{name: check_limit, invoke: policy.check_limit, on_timeout: stall}",
    )
    code = emit_files(design(parse_spec(text, "s.yaml"), "s.yaml"))["ftgo/sagas.py"]
    assert 'on_timeout="stall"' in code
    wrong = spec_with(
        "{name: approve_order, invoke: ordering.order.approve_order}",
        "{name: approve_order, invoke: ordering.order.approve_order, on_timeout: compensate}",
    )
    error = error_at(wrong, "compensate}")
    assert error.message == (
        "step 'approve_order' comes after the pivot, where a saga no longer compensates"
    )


def test_the_generated_business_rules_say_how_a_gateway_refuses() -> None:
    rules = emit_files(design(parse_spec(SPEC, "s.yaml"), "s.yaml"))["ftgo/business_rules.py"]
    assert "GatewayRefusal(reason)" in rules
    assert "the gateway actor is not restarted" in rules
