"""Typed parameters: every parameter has a declared or inferred type, expressions over
mismatched types are spec errors, the saga inputs carry the types, and ``sagacrew run``
fails when the system crashed."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import ROOT
from cli_helpers import copy_of_generated
from cli_helpers import sagacrew

from sagacrew.agents.spec import parse_spec
from sagacrew.crew.pipeline import design
from tests.test_spec_rules import changed
from tests.test_spec_rules import error_at
from tests.test_spec_rules import only_error

SPEC = (Path(__file__).parent / "data" / "specs" / "models.yaml").read_text("utf-8")


def test_declared_parameter_types_reach_the_saga_inputs() -> None:
    blueprint = design(parse_spec(SPEC, "s.yaml"), "s.yaml")
    assert blueprint.sagas is not None
    inputs = blueprint.sagas.sagas[0].inputs
    assert inputs == {
        "model_id": "str",
        "drift_score": "int",
        "max_drift": "int",
        "replicas": "int",
        "canary": "bool",
    }


def test_an_untyped_parameter_takes_the_type_of_a_field_of_that_name() -> None:
    text = changed("params: {max_drift: int}", "params: [drift_score]", SPEC)
    text = changed("rejects_when: drift_score > max_drift", "rejects_when: drift_score > 9", text)
    blueprint = design(parse_spec(text, "s.yaml"), "s.yaml")
    assert blueprint.sagas is not None
    assert blueprint.sagas.sagas[0].inputs["drift_score"] == "int"


@pytest.mark.parametrize(
    ("rule", "needle", "message"),
    [
        (
            "drift_score > status",
            "status",
            "'drift_score' is a number and 'status' is a string: they do not compare",
        ),
        (
            "status == 3",
            "3",
            "'status' is a string and '3' is a number: they are never equal",
        ),
        (
            "status in ['new', 1]",
            "1]",
            "'status' is a string and '1' is a number: they never match",
        ),
        (
            "drift_score + status > 1",
            "status >",
            "`+` needs a number, but 'status' is a string",
        ),
    ],
)
def test_an_expression_over_mismatched_types_is_an_error_at_its_place(
    rule: str, needle: str, message: str
) -> None:
    text = changed("rejects_when: drift_score > max_drift", f"rejects_when: {rule}", SPEC)
    error = error_at(text, needle, text.count(needle))
    assert error.message == f"in `{rule}`: {message}"


def test_a_parameter_declared_with_the_wrong_type_is_caught_in_the_comparison() -> None:
    text = changed("params: {max_drift: int}", "params: {max_drift: str}", SPEC)
    error = only_error(text)
    assert error.message == (
        "in `drift_score > max_drift`: 'drift_score' is a number and 'max_drift' is a "
        "string: they do not compare"
    )
    assert error.fix.startswith("compare values of one type")


def test_sagacrew_run_exits_non_zero_when_a_handler_crashes(tmp_path: Path) -> None:
    system = copy_of_generated("order_fulfilment", tmp_path)
    rules = system / "order_fulfilment" / "business_rules.py"
    rules.write_text(
        rules.read_text("utf-8").replace(
            '    """ordering.order: the spec\'s rules, plus any you add here."""',
            '    """ordering.order: a rule with a bug."""\n\n'
            "    def broken_invariants(self, state: object) -> list[str]:\n"
            '        return [1 > "1"]  # type: ignore[operator]\n',
        ),
        "utf-8",
    )
    done = sagacrew("run", str(system), "--sagas", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: the system crashed:" in done.stderr
    assert "TypeError" in done.stderr
    assert "Traceback" not in done.stderr


def test_sagacrew_run_exits_zero_when_sagas_only_compensate(tmp_path: Path) -> None:
    system = copy_of_generated("order_fulfilment", tmp_path)
    done = sagacrew("run", str(system), "--sagas", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "crashed" not in done.stderr


def test_the_api_checks_requests_against_the_typed_inputs(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from sagacrew.agents.generated import open_generated
    from sagacrew.runtime.api import create_app

    system = open_generated(ROOT / "generated" / "warehouse_orders")
    saga_system = system.definition(f"sqlite:///{tmp_path / 'state.db'}")
    app = create_app(
        saga_system,
        blueprint=system.blueprint.model_dump(mode="json"),
        flowcharts_dir=system.root / "flowcharts",
        operator_token="t",
    )
    good = {
        "order_id": "o-1",
        "customer_id": "c-1",
        "total_cents": 100,
        "lines": [{"sku": "s-1", "quantity": 2}],
    }
    auth = {"Authorization": "Bearer t"}
    with TestClient(app) as client:
        accepted = client.post("/api/sagas/fulfil_order", json=good, headers=auth)
        refused = client.post(
            "/api/sagas/fulfil_order",
            json={**good, "total_cents": "100", "lines": "s-1"},
            headers=auth,
        )
    assert accepted.status_code == 202, accepted.text
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        "field 'lines' must be list[{sku: str, quantity: int}], not str",
        "field 'total_cents' must be int, not str",
    ]
