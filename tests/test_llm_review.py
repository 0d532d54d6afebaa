"""Reviewing LLM proposals without an LLM: every item is checked on its own, and the
merged blueprint must still generate the same code outside docstrings and comments."""

from __future__ import annotations

import math

import pytest
from llm_samples import CHECK
from llm_samples import FAULT

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.spec import DomainSpec
from sagacrew.crew.llm import ActorProposal
from sagacrew.crew.llm import EventProposal
from sagacrew.crew.llm import FaultProposal
from sagacrew.crew.llm import InvariantCheck
from sagacrew.crew.llm import NamedText
from sagacrew.crew.llm import SagaProposal
from sagacrew.crew.llm import SupervisionTweak
from sagacrew.crew.llm import ValidationProposal
from sagacrew.crew.llm import merge_reviewed
from sagacrew.crew.llm import text_problem
from sagacrew.crew.llm.errors import EditPathError
from sagacrew.crew.llm.merge import Edit
from sagacrew.crew.llm.merge import apply_edits
from sagacrew.crew.llm.review import Review
from sagacrew.crew.llm.review_design import review_actors
from sagacrew.crew.llm.review_design import review_events
from sagacrew.crew.llm.review_design import review_sagas
from sagacrew.crew.llm.review_validation import review_validation
from sagacrew.crew.llm.sql import SqlChecker


@pytest.fixture(scope="module")
def checker() -> SqlChecker:
    return SqlChecker()


def tweak(**changes: object) -> SupervisionTweak:
    values: dict[str, object] = {
        "name": "ordering",
        "intensity": 4,
        "period_s": 20.0,
        "backoff_min_s": 0.05,
        "backoff_max_s": 2.0,
        "rationale": "Orders are critical: a few more restarts, spaced by a short backoff.",
    }
    return SupervisionTweak.model_validate(values | changes)


def check(**changes: object) -> InvariantCheck:
    return InvariantCheck.model_validate(CHECK | changes)


def fault(**changes: object) -> FaultProposal:
    return FaultProposal.model_validate(FAULT | changes)


# --- plain text ---------------------------------------------------------------------


def test_plain_one_line_prose_is_accepted_as_text() -> None:
    assert text_problem("Owns each order's lifecycle: pending → approved (or rejected).") is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('Owns orders."""; import os', "double quote"),
        ("Owns orders.\nimport os", "control or format character"),
        ("Owns orders.\r\nimport os", "control or format character"),
        ("Owns orders.\u2028import os", "LINE SEPARATOR"),
        ("Owns \u202eorders", "RIGHT-TO-LEFT OVERRIDE"),
        ("Owns {{ config.items() }}", "template syntax '{{'"),
        ("Owns {% for x in y %}", "template syntax '{%'"),
        ("Owns ```python", "code fence"),
        ("Owns orders\\", "backslash"),
        ("Owns '''orders", "triple quotes"),
        ("Owns orders  # noqa: E501", "pragma"),
        ("Owns orders; sagacrew: allow SAGA-L001", "pragma"),
        ("fmt: off", "pragma"),
        ("Owns <script>alert(1)</script>", "HTML tag"),
        ("x" * 401, "at most 400"),
        ("Owns " + "a" * 81, "without a space"),
        ("   ", "empty"),
        (" padded", "whitespace"),
    ],
)
def test_text_that_could_break_out_or_change_tooling_is_refused(text: str, reason: str) -> None:
    problem = text_problem(text)
    assert problem is not None and reason in problem


# --- SQL ------------------------------------------------------------------------------


def test_read_only_select_over_runtime_tables_is_accepted(checker: SqlChecker) -> None:
    assert checker.violations_problem(check().violations_sql, 1) is None
    assert checker.subjects_problem("SELECT COUNT(*) FROM saga_executions") is None


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DROP TABLE events", "not a SELECT"),
        ("SELECT saga_id FROM saga_executions; DROP TABLE events", "';'"),
        ("SELECT saga_id FROM saga_executions -- hidden", "comment"),
        ("SELECT saga_id FROM saga_executions /* hidden */", "comment"),
        ("PRAGMA table_info(events)", "not a SELECT"),
        ("ATTACH DATABASE 'x.db' AS x", "not a SELECT"),
        ("SELECT saga_id FROM saga_executions WHERE 1 = (SELECT 1 FROM x.y) AND attach", "ATTACH"),
        ("WITH d AS (DELETE FROM events RETURNING stream_id) SELECT stream_id FROM d", "DELETE"),
        ("SELECT saga_id INTO backup FROM saga_executions", "INTO"),
        (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
            "RECURSIVE",
        ),
        ("SELECT name FROM sqlite_master", "prohibited"),
        ("SELECT load_extension('evil.so')", "load_extension"),
        ("SELECT saga_id FROM saga_executions WHERE julianday(started_at) > 0", "PostgreSQL"),
        ("SELECT saga_id FROM saga_executions WHERE state = :state", "named"),
        ("SELECT no_such_column FROM saga_executions", "fails on an empty store"),
        ("SELECT 'always'", "reports violations on an empty store"),
        ("SELECT saga_id FROM saga_executions WHERE error = 'unterminated", "unterminated"),
    ],
)
def test_sql_that_is_not_one_read_only_select_is_refused(
    checker: SqlChecker, sql: str, reason: str
) -> None:
    problem = checker.violations_problem(sql, 0)
    assert problem is not None and reason in problem


def test_subjects_sql_must_count_in_one_row(checker: SqlChecker) -> None:
    grouped = "SELECT COUNT(*) FROM events GROUP BY stream_id"
    assert "exactly one row" in (checker.subjects_problem(grouped) or "")
    assert "placeholders" in (checker.subjects_problem("SELECT ? FROM events") or "")


# --- actors, sagas, events ----------------------------------------------------------------


def test_valid_supervision_tweak_becomes_one_edit(blueprint: Blueprint) -> None:
    review = review_actors(ActorProposal(descriptions=[], supervision=[tweak()]), blueprint)
    assert review.rejected == []
    merged = apply_edits(blueprint, review.edits)
    assert merged.actors is not None
    ordering = next(s for s in merged.actors.supervisors if s.name == "ordering")
    assert (ordering.intensity, ordering.period_s, ordering.backoff_max_s) == (4, 20.0, 2.0)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"intensity": 0}, "intensity 0 is outside [1, 100]"),
        ({"intensity": 101}, "intensity 101 is outside [1, 100]"),
        ({"period_s": 0.0}, "period_s 0.0 is outside (0, 3600]"),
        ({"period_s": math.nan}, "not a finite number"),
        ({"backoff_min_s": 3.0, "backoff_max_s": 1.0}, "exceeds backoff_max_s"),
        ({"backoff_max_s": 301.0}, "outside [0, 300]"),
        ({"name": "orders"}, "no supervisor of that name"),
        ({"strategy": "one_for_all"}, "field 'strategy' may not be proposed"),
        ({"rationale": 'Sure."""\nimport os'}, "control or format character"),
    ],
)
def test_supervision_tweak_out_of_bounds_is_rejected_with_the_reason(
    blueprint: Blueprint, changes: dict[str, object], reason: str
) -> None:
    review = review_actors(
        ActorProposal(descriptions=[], supervision=[tweak(**changes)]), blueprint
    )
    assert review.edits == []
    assert len(review.rejected) == 1 and reason in review.rejected[0]


def test_description_for_a_renamed_actor_is_rejected(blueprint: Blueprint) -> None:
    proposal = ActorProposal(
        descriptions=[NamedText(name="ordering.orders", description="Owns orders.")],
        supervision=[],
    )
    review = review_actors(proposal, blueprint)
    assert review.edits == []
    assert "there is no actor of that name (names cannot be changed" in review.rejected[0]


def test_same_item_twice_is_rejected_the_second_time(blueprint: Blueprint) -> None:
    item = NamedText(name="ordering.order.created", description="An order was placed.")
    review = review_events(EventProposal(descriptions=[item, item]), blueprint)
    assert len(review.edits) == 1
    assert review.rejected == [
        "events: description of event 'ordering.order.created': it is proposed more than once"
    ]


def test_pivot_and_unknown_step_cannot_be_proposed(blueprint: Blueprint) -> None:
    proposal = SagaProposal.model_validate(
        {
            "saga_descriptions": [],
            "step_descriptions": [
                {"name": "create_order.create_order", "description": "Opens.", "pivot": True},
                {"name": "create_order.pay", "description": "Pays."},
                {"name": "create_order.authorize_card", "description": "The point of no return."},
            ],
            "pivot_index": 0,
        }
    )
    review = review_sagas(proposal, blueprint)
    assert [e.label for e in review.edits] == [
        "sagas: description of step 'create_order.authorize_card'"
    ]
    assert any("field 'pivot_index'" in r for r in review.rejected)
    assert any("field 'pivot' may not be proposed" in r for r in review.rejected)
    assert any("'create_order.pay': there is no step of that name" in r for r in review.rejected)


# --- validation -----------------------------------------------------------------------------


def test_valid_check_and_fault_are_appended(blueprint: Blueprint, checker: SqlChecker) -> None:
    proposal = ValidationProposal(invariant_checks=[check()], fault_scenarios=[fault()])
    review = review_validation(proposal, blueprint, checker)
    assert review.rejected == []
    merged = apply_edits(blueprint, review.edits)
    assert merged.validation is not None and blueprint.validation is not None
    assert merged.validation.queries[-1].name == "no_saga_stuck_running"
    assert merged.validation.queries[-1].params == ["now"]
    assert merged.validation.faults[-1].step == "create_ticket"
    assert merged.validation.queries[:-1] == blueprint.validation.queries


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (check(name="events_in_taxonomy"), "a check of that name exists already"),
        (check(name="Bad Name"), "snake_case"),
        (check(params=["later"]), "params may only list 'now'"),
        (check(params=[]), "has 1 '?' but params lists 0"),
        (check(violations_sql="DROP TABLE events"), "violations_sql: it is not a SELECT"),
        (check(description="Checks {{ secrets }}"), "description: it contains template"),
        (fault(saga="ship_order"), "there is no saga 'ship_order'"),
        (fault(step="bake"), "has no step 'bake'"),
        (fault(step="confirm_ticket"), "comes after the pivot"),
        (fault(rate=1.5), "rate 1.5 is outside [0, 1]"),
        (fault(kind="meteor_strike"), "kind 'meteor_strike' is not one of"),
        (fault(name="create_order_business_refusals"), "exists already"),
    ],
)
def test_invalid_check_or_fault_is_rejected_with_the_reason(
    blueprint: Blueprint, checker: SqlChecker, item: object, reason: str
) -> None:
    checks = [item] if isinstance(item, InvariantCheck) else []
    faults = [item] if isinstance(item, FaultProposal) else []
    review = review_validation(
        ValidationProposal(invariant_checks=checks, fault_scenarios=faults), blueprint, checker
    )
    assert review.edits == []
    assert len(review.rejected) == 1 and reason in review.rejected[0], review.rejected


# --- merging --------------------------------------------------------------------------------


def test_edits_outside_the_allowed_paths_are_refused(blueprint: Blueprint) -> None:
    with pytest.raises(EditPathError):
        apply_edits(
            blueprint, [Edit("move the pivot", sets=((("sagas", "sagas", 0, "pivot_index"), 0),))]
        )
    with pytest.raises(EditPathError):
        apply_edits(blueprint, [Edit("rename", sets=((("actors", "actors", 0, "name"), "x"),))])


def test_docstring_and_comment_breakouts_that_bypassed_review_are_caught_by_the_code_check(
    spec: DomainSpec, blueprint: Blueprint
) -> None:
    docstring = Edit(
        "actors: description of actor 'ordering.order'",
        sets=(
            (
                ("actors", "actors", 0, "description"),
                'Owns orders."""\n    raise SystemExit(1)\n    """',
            ),
        ),
    )
    comment = Edit(
        "sagas: description of saga 'create_order'",
        sets=((("sagas", "sagas", 0, "description"), "Places an order.\nraise SystemExit(1)"),),
    )
    broken = Edit(
        "actors: description of actor 'consumers.consumer'",
        sets=((("actors", "actors", 1, "description"), 'Consumers."""\n    ('),),
    )
    fine = Edit(
        "events: description of event 'ordering.order.created'",
        sets=((("events", "events", 0, "description"), "A consumer placed an order."),),
    )
    edits = [docstring, comment, broken, fine]
    refinement = merge_reviewed(spec, blueprint, Review(edits=edits))
    assert refinement.accepted == ["events: description of event 'ordering.order.created'"]
    assert len(refinement.rejected) == 3
    assert "actors.py differs from the deterministic code" in refinement.rejected[0]
    assert "sagas.py differs from the deterministic code" in refinement.rejected[1]
    assert "does not emit" in refinement.rejected[2]  # not even valid Python
    assert refinement.blueprint.actors == blueprint.actors
    assert refinement.blueprint.sagas == blueprint.sagas
    assert refinement.blueprint.events is not None
    assert refinement.blueprint.events.events[0].description == "A consumer placed an order."


def test_nothing_to_merge_returns_the_same_blueprint(
    spec: DomainSpec, blueprint: Blueprint
) -> None:
    refinement = merge_reviewed(spec, blueprint, Review(rejected=["x: y"]))
    assert refinement.blueprint is blueprint
    assert (refinement.accepted, refinement.rejected) == ([], ["x: y"])
