"""The four agents' derivations, on the FTGO order-fulfilment example."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.spec import load_spec
from sagacrew.agents.spec.model import CommandKind
from sagacrew.crew.pipeline import design

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def order() -> Blueprint:
    return design(load_spec(EXAMPLES / "order_fulfilment.yaml"), "order_fulfilment.yaml")


def test_architect_makes_one_actor_per_aggregate_and_one_gateway_per_external(
    order: Blueprint,
) -> None:
    assert order.actors is not None
    kinds = {actor.name: actor.kind for actor in order.actors.actors}
    assert kinds == {
        "ordering.order": "aggregate",
        "consumers.consumer": "aggregate",
        "kitchen.ticket": "aggregate",
        "payment_gateway": "gateway",
    }


def test_supervision_root_is_rest_for_one_in_dependency_order(order: Blueprint) -> None:
    assert order.actors is not None
    root = order.actors.supervisors[0]
    assert root.strategy == "rest_for_one"
    assert [child.name for child in root.children] == [
        "ordering",
        "consumers",
        "kitchen",
        "externals",
    ]
    assert "depend" in root.rationale


def test_compensations_are_derived_from_command_kinds(order: Blueprint) -> None:
    assert order.sagas is not None
    steps = {step.name: step for step in order.sagas.sagas[0].steps}
    assert steps["create_order"].compensation is not None
    assert steps["create_order"].compensation.command == "_delete"
    assert steps["validate_consumer"].kind is CommandKind.QUERY
    assert steps["validate_consumer"].compensation is None
    assert steps["validate_consumer"].compensatable
    assert steps["authorize_card"].compensation is not None
    assert steps["authorize_card"].compensation.command == "void_authorization"
    assert steps["approve_order"].compensation is not None
    assert steps["approve_order"].compensation.command == "_restore"


def test_steps_after_the_pivot_are_retriable_and_before_are_not(order: Blueprint) -> None:
    assert order.sagas is not None
    saga = order.sagas.sagas[0]
    assert saga.pivot_index == 3
    assert [s.retriable for s in saga.steps] == [False, False, False, False, True, True]


def test_taxonomy_holds_every_event_including_compensation_events(order: Blueprint) -> None:
    assert order.events is not None
    names = {event.name for event in order.events.events}
    assert {
        "ordering.order.created",
        "ordering.order.approved",
        "ordering.order.rejected",
        "ordering.order.deleted",
        "ordering.order.restored",
        "kitchen.ticket.created",
        "kitchen.ticket.confirmed",
        "kitchen.ticket.deleted",
    } <= names
    for name in names:
        verb = name.split(".")[2]
        assert verb.endswith("ed"), name


def test_event_schemas_require_the_identity(order: Blueprint) -> None:
    assert order.events is not None
    created = next(e for e in order.events.events if e.name == "ordering.order.created")
    assert created.payload_schema["required"] == sorted(
        ["order_id", "consumer_id", "total_cents", "status"]
    )


def test_validation_plan_checks_every_compensatable_effect(order: Blueprint) -> None:
    assert order.validation is not None
    names = {query.name for query in order.validation.queries}
    assert "ordering_order_create_order_undone" in names
    assert "kitchen_ticket_create_ticket_undone" in names
    assert "external_payment_gateway_authorize_card_undone" in names
    assert "events_in_taxonomy" in names


def test_design_is_deterministic(order: Blueprint) -> None:
    again = design(load_spec(EXAMPLES / "order_fulfilment.yaml"), "order_fulfilment.yaml")
    assert again.to_json() == order.to_json()
