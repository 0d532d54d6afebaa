"""The spec's rules: each with a failing sample, its position and its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagacrew.agents.spec import DomainSpec
from sagacrew.agents.spec import SpecError
from sagacrew.agents.spec import SpecErrors
from sagacrew.agents.spec import check_rules
from sagacrew.agents.spec import parse_spec

BASE = (Path(__file__).parent / "data" / "specs" / "shop.yaml").read_text("utf-8")


def errors_of(text: str) -> list[SpecError]:
    with pytest.raises(SpecErrors) as caught:
        parse_spec(text, "s.yaml")
    return caught.value.errors


def only_error(text: str) -> SpecError:
    errors = errors_of(text)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


def changed(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def position(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the ``occurrence``-th ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def at(error: SpecError) -> tuple[int, int]:
    return error.line, error.column


def error_at(text: str, where: str, occurrence: int = 1) -> SpecError:
    """The one error of ``text``, checked to point at the ``occurrence``-th ``where``."""
    error = only_error(text)
    assert at(error) == position(text, where, occurrence)
    return error


ONE_ERROR = [  # (old, new, where, message, fix): a ``None`` is not checked
    pytest.param(
        "invoke: ordering.order.approve_order",
        "invoke: ordering.order.aprove_order",
        "ordering.order.aprove_order",
        "step 'approve_order' invokes unknown command 'ordering.order.aprove_order'",
        "did you mean 'ordering.order.approve_order'?",
        id="invoke_of_unknown_command_suggests_the_closest_target",
    ),
    pytest.param(
        "invoke: payments.notify",
        "invoke: payments.notfy",
        None,
        "step 'notify' invokes unknown external operation 'payments.notfy'",
        "did you mean 'payments.notify'?",
        id="invoke_of_unknown_operation_suggests_the_closest_operation",
    ),
    pytest.param(
        "invoke: payments.notify",
        "invoke: a.b.c.d",
        None,
        "invoke 'a.b.c.d' must be `context.aggregate.command` or `external.operation`",
        None,
        id="invoke_with_four_parts_is_refused_by_the_model",
    ),
    pytest.param(
        "params: [total_cents]",
        "params: [total_cent]",
        "total_cent]",
        "param 'total_cent' of command 'create_order' is not a field of aggregate 'order'",
        "did you mean 'total_cents'?",
        id="command_params_must_name_fields",
    ),
    pytest.param(
        "identity: sku",
        "identity: sku_id",
        "sku_id",
        "identity 'sku_id' is not a field of aggregate 'item'",
        "did you mean 'sku'?",
        id="identity_must_be_a_field",
    ),
    pytest.param(
        "fields: {sku: str, available: int}",
        "fields: {sku: str, available: int}\n        initial: {available: many}",
        "many",
        "'available' is a int field but is set to 'many' (str)",
        None,
        id="initial_values_must_name_fields_of_the_right_type",
    ),
    pytest.param(
        "charge: {undo: refund,",
        "charge: {undo: refnd,",
        "refnd",
        "undo 'refnd' is not an operation of 'payments'",
        "did you mean 'refund'?",
        id="undo_must_name_another_operation_of_the_same_system",
    ),
    pytest.param(
        "notify: {}",
        "notify: {completion_event: notified, completion_timeout_s: 5}",
        "notified",
        "completion_event 'notified' must be dot-separated lowercase words, e.g. "
        "`context.aggregate.past_tense_verb`",
        "write e.g. `completion_event: context.notified`",
        id="completion_event_must_be_a_dotted_name",
    ),
    pytest.param(
        "notify: {}",
        "notify: {completion_event: ordering.order.notify, completion_timeout_s: 5}",
        None,
        "completion_event 'ordering.order.notify' does not end in a past-tense verb",
        "name what happened: did you mean ordering.order.notified?",
        id="completion_event_verb_must_be_past_tense",
    ),
    pytest.param(
        "{name: approve_order,",
        "{name: charge,",
        "charge, invoke: ordering.order.approve_order",
        "duplicate step name 'charge' (also step 3)",
        None,
        id="duplicate_step_names_are_refused",
    ),
    pytest.param(
        "event: approved}",
        "event: approve}",
        None,
        "event 'approve' is not a past-tense verb",
        "name what happened, e.g. `event: approved`",
        id="explicit_event_must_be_past_tense",
    ),
    pytest.param(
        "check: total_cents > 0",
        "check: len(status) > 0",
        "len(status)",
        "in `len(status) > 0`: 'len(status)' is not allowed in expressions",
        None,
        id="invariant_check_must_compile_over_state_fields",
    ),
    pytest.param(
        "check: total_cents > 0",
        "check: total_cents > limit",
        "limit",
        "in `total_cents > limit`: unknown name 'limit'",
        None,
        id="invariant_check_error_points_inside_the_expression",
    ),
    pytest.param(
        "depends_on: [ordering]",
        "depends_on: [orderin]",
        "orderin]",
        "context 'stock' depends on unknown context 'orderin'",
        "did you mean 'ordering'?",
        id="depends_on_must_name_known_contexts",
    ),
    pytest.param(
        "  ordering:\n    aggregates:",
        "  ordering:\n    depends_on: [stock]\n    aggregates:",
        "ordering]",
        "contexts depend on each other in a cycle: ordering -> stock -> ordering",
        "remove 'ordering' from `depends_on` of 'stock'",
        id="a_dependency_cycle_among_contexts_is_an_error",
    ),
    pytest.param(
        "    trigger: ordering.order.create_order",
        "    trigger: ordering.order.create_order\n    step_timeout_s: 0",
        None,
        "step_timeout_s must be greater than 0.0 (got 0)",
        "write e.g. `step_timeout_s: 5.0`",
        id="non_positive_timeouts_are_refused",
    ),
    pytest.param(
        "approve_order: {kind: update,",
        "check_limit: {kind: query, params: [limit_cents], rejects_when: limit_cents > 5}\n"
        "          approve_order: {kind: update,",
        "limit_cents > 5",
        "in `limit_cents > 5`: parameter 'limit_cents' has no type (it is no field of any "
        "aggregate)",
        "declare it with its type, e.g. `params: {limit_cents: int}`",
        id="an_untyped_parameter_in_a_comparison_must_be_declared",
    ),
    pytest.param(
        "          approve_order: {kind: update, sets: {status: approved}, event: approved}",
        "          cancel_order: {kind: update, sets: {status: cancelled}}\n"
        "          approve_order: {kind: update, sets: {status: approved}}",
        "update, sets: {status: approved}",
        "command 'approve_order' emits event 'ordering.order.updated', already emitted by "
        "command 'cancel_order'",
        "give it its own event, e.g. `event: approved`",
        id="two_commands_emitting_one_event_is_an_error_on_the_second",
    ),
]


def test_base_sample_is_valid() -> None:
    spec = parse_spec(BASE)
    assert check_rules(spec) == []


@pytest.mark.parametrize(("old", "new", "where", "message", "fix"), ONE_ERROR)
def test_a_broken_rule_gives_one_error_with_its_message(
    old: str, new: str, where: str | None, message: str, fix: str | None
) -> None:
    """Replacing ``old`` by ``new`` in ``BASE`` breaks one rule: one error, its ``message``
    and, where the case gives them, its place (the first ``where``) and its ``fix``."""
    text = changed(old, new)
    error = only_error(text)
    if where is not None:
        assert at(error) == position(text, where)
    assert error.message == message
    if fix is not None:
        assert error.fix == fix


def test_aggregate_command_may_not_have_kind_external() -> None:
    text = changed("approve_order: {kind: update,", "approve_order: {kind: external,")
    error = error_at(text, "external,")
    assert "only for saga steps that invoke an external operation" in error.message


def test_query_params_are_inputs_and_may_name_anything_typed() -> None:
    text = changed(
        "approve_order: {kind: update,",
        "check_limit: {kind: query, params: {limit_cents: int}, rejects_when: limit_cents > 5}\n"
        "          approve_order: {kind: update,",
    )
    parse_spec(text)


def test_sets_must_name_fields_and_fit_their_type() -> None:
    text = changed("sets: {status: approved}", "sets: {statuss: approved, total_cents: high}")
    first, second = errors_of(text)
    assert at(first) == position(text, "statuss")
    assert first.fix == "did you mean 'status'?"
    assert at(second) == position(text, "high")
    assert second.message == "'total_cents' is a int field but is set to 'high' (str)"


def test_unquoted_yes_in_a_str_field_explains_yaml_booleans() -> None:
    error = only_error(changed("sets: {status: approved}", "sets: {status: yes}"))
    assert "YAML reads unquoted yes, no, on, off, true and false as booleans" in error.fix


def test_reserve_needs_a_quantity_field() -> None:
    text = changed(
        "reserve_item: {kind: reserve, quantity_field: available}", "reserve_item: {kind: reserve}"
    )
    error = error_at(text, "reserve}")
    assert error.message == "reserve command 'reserve_item' needs `quantity_field`"
    assert error.fix.startswith("add `quantity_field: available`")


def test_quantity_field_must_be_an_int_field() -> None:
    text = changed("fields: {sku: str, available: int}", "fields: {sku: str, available: float}")
    errors = errors_of(text)
    assert [e.message for e in errors] == [
        "quantity_field 'available' is a float field, not an int",
        "quantity_field 'available' is a float field, not an int",
    ]


def test_reserve_needs_a_release_on_the_same_field() -> None:
    text = changed("          release_item: {kind: release, quantity_field: available}\n", "")
    errors = errors_of(text)
    assert errors[0].message == (
        "reserve command 'reserve_item' has no release command on 'available' to compensate it"
    )
    assert at(errors[0]) == position(text, "reserve, quantity")
    # The saga step invoking it is then not compensatable either.
    assert errors[1].message.startswith("step 'reserve_item' comes before the pivot 'charge'")


def test_an_operation_cannot_be_its_own_undo() -> None:
    text = changed("charge: {undo: refund,", "charge: {undo: charge,")
    errors = errors_of(text)
    assert errors[0].message == "operation 'charge' cannot be its own undo"


def test_a_completion_event_need_not_name_an_aggregate_but_must_be_past_tense() -> None:
    valid = changed("notify: {}", "notify: {completion_event: mail.sent, completion_timeout_s: 5}")
    parse_spec(valid, "s.yaml")
    text = changed(
        "notify: {}", "notify: {completion_event: ml.run.complete, completion_timeout_s: 5}"
    )
    error = error_at(text, "ml.run.complete")
    assert error.message == "completion_event 'ml.run.complete' does not end in a past-tense verb"
    assert error.fix == "name what happened: did you mean ml.run.completed?"


def test_a_completion_event_is_dotted_lowercase() -> None:
    text = changed(
        "notify: {}", "notify: {completion_event: MlRunCompleted, completion_timeout_s: 5}"
    )
    error = only_error(text)
    assert "must be dot-separated lowercase words" in error.message


def test_completion_event_requires_a_completion_timeout() -> None:
    text = changed("notify: {}", "notify: {completion_event: ordering.order.notified}")
    error = error_at(text, "ordering.order.notified")
    assert "sets no completion_timeout_s" in error.message
    assert error.fix.startswith("add `completion_timeout_s:")


def test_a_completion_event_can_trigger_a_saga() -> None:
    text = changed(
        "notify: {}", "notify: {completion_event: ordering.order.notified, completion_timeout_s: 5}"
    )
    parse_spec(
        changed("trigger: ordering.order.create_order", "trigger: ordering.order.notified", text)
    )


def test_at_most_one_pivot_per_saga() -> None:
    text = changed(
        "invoke: ordering.order.approve_order}",
        "invoke: ordering.order.approve_order, pivot: true}",
    )
    error = error_at(text, "true}", 2)
    assert (
        error.message
        == "saga 'place_order' has more than one pivot (step 'charge' is already the pivot)"
    )


def test_step_before_the_pivot_must_be_compensatable() -> None:
    text = changed(
        "charge: {undo: refund, params: [total_cents]}", "charge: {params: [total_cents]}"
    )
    text = changed("invoke: payments.charge, pivot: true}", "invoke: payments.charge}", text)
    text = changed(
        "invoke: ordering.order.approve_order}",
        "invoke: ordering.order.approve_order, pivot: true}",
        text,
    )
    error = error_at(text, "{name: charge")
    assert error.message == (
        "step 'charge' comes before the pivot 'approve_order' but cannot be compensated "
        "(operation 'payments.charge' declares no undo)"
    )
    assert error.fix.startswith(
        "move it after the pivot, mark it (or an earlier step) as the pivot"
    )
    assert "declare an undo on operation 'charge'" in error.fix


def test_without_a_pivot_every_step_must_be_compensatable() -> None:
    text = changed("invoke: payments.charge, pivot: true}", "invoke: payments.charge}")
    error = error_at(text, "{name: notify")
    assert error.message == (
        "step 'notify' cannot be compensated (operation 'payments.notify' declares no undo) "
        "and saga 'place_order' has no pivot"
    )
    assert error.fix.startswith("mark it (or an earlier step) as the pivot with `pivot: true`")


def test_release_before_the_pivot_is_not_compensatable() -> None:
    text = changed(
        "      - {name: reserve_item, invoke: stock.item.reserve_item}\n",
        "      - {name: reserve_item, invoke: stock.item.reserve_item}\n"
        "      - {name: release_item, invoke: stock.item.release_item}\n",
    )
    error = only_error(text)
    assert "is a release, which has no compensation" in error.message


def test_steps_after_the_pivot_need_no_compensation() -> None:
    spec = parse_spec(BASE)
    assert spec.sagas["place_order"].steps[-1].invoke == "payments.notify"


def test_step_and_saga_names_are_identifiers() -> None:
    text = changed("{name: notify,", "{name: 'send notice',")
    text = changed("  place_order:", "  place-order:", text)
    first, second = errors_of(text)
    assert first.message == "'place-order' is not a valid name"
    assert first.fix.endswith("e.g. `place_order`")
    assert second.message == "name 'send notice' is not a valid name"
    assert second.fix.endswith("e.g. `send_notice`")


def test_rejects_when_may_use_params_and_state_but_nothing_else() -> None:
    text = changed(
        "sets: {status: approved},",
        "sets: {status: approved}, rejects_when: status == 'x' and amount > 1,",
    )
    error = only_error(text)
    assert error.message.endswith("unknown name 'amount'")
    ok = changed(
        "reserve_item: {kind: reserve,",
        "reserve_item: {kind: reserve, rejects_when: amount > available,",
    )
    parse_spec(ok)


def test_trigger_must_name_a_known_command_or_event() -> None:
    text = changed("trigger: ordering.order.create_order", "trigger: ordering.order.create_ordr")
    error = error_at(text, "ordering.order.create_ordr")
    assert error.fix == "did you mean 'ordering.order.create_order'?"
    parse_spec(changed("trigger: ordering.order.create_order", "trigger: ordering.order.approved"))


def test_a_context_depending_on_itself_is_an_error() -> None:
    error = only_error(changed("depends_on: [ordering]", "depends_on: [ordering, stock]"))
    assert error.message == "context 'stock' depends on itself"


def test_more_than_500_sagas_suggests_splitting_the_spec() -> None:
    steps = "    steps: [{name: a, invoke: ordering.order.create_order}]\n"
    many = "".join(
        f"  saga_{n}:\n    trigger: ordering.order.create_order\n{steps}" for n in range(501)
    )
    text = BASE[: BASE.index("sagas:\n")] + "sagas:\n" + many
    error = error_at(text, "sagas:")
    assert error.message == "the spec declares 501 sagas, more than 500"
    assert error.fix.startswith("split it into several specs")


def test_more_than_500_aggregates_suggests_splitting_the_spec() -> None:
    aggregate = (
        "      a{n}: {{identity: i, fields: {{i: str}}, commands: {{c: {{kind: query}}}}}}\n"
    )
    extra = "  big:\n    aggregates:\n" + "".join(aggregate.format(n=n) for n in range(500))
    text = changed("externals:", extra + "externals:")
    error = only_error(text)
    assert error.message == "the spec declares 502 aggregates, more than 500"


def test_check_rules_works_on_a_spec_built_in_code() -> None:
    spec = parse_spec(BASE)
    saga = spec.sagas["place_order"]
    steps = [step.model_copy(update={"pivot": False}) for step in saga.steps]
    broken = spec.model_copy(
        update={"sagas": {"place_order": saga.model_copy(update={"steps": steps})}}
    )
    assert isinstance(broken, DomainSpec)
    (violation,) = check_rules(broken)
    assert violation.path == ("sagas", "place_order", "steps", 4)
    assert "has no pivot" in violation.message
