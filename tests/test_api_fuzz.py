"""Fuzzing the status API against its own OpenAPI document (schemathesis).

A real uvicorn server on loopback serves generated/order_fulfilment on a SQLite store;
schemathesis generates requests for every operation of ``/api/openapi.json`` (valid and
invalid parameters and bodies, with the operator token) and checks each response: no
5xx, and status code, content type, headers and body as the document declares them.
A second pass runs while every store read fails as an unreachable database does: the
answers are then 503 with ``Retry-After`` (or what the document says for the request),
never 500. A bounded, derandomized number of examples per operation keeps both short and
repeatable.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from http_helpers import example_app
from http_helpers import uvicorn_thread
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis.errors import Unsatisfiable
from order_example import GENERATED
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import negative_data_rejection
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from sagacrew.runtime import SagaSystem
from sagacrew.runtime.store import StoreUnavailable

TOKEN = "fuzz-operator-token"
MAX_EXAMPLES = 25
OUTAGE_EXAMPLES = 5
OUTAGE_METHODS = (
    "ping",
    "query",
    "saga_summaries",
    "saga_page",
    "saga_state_counts",
    "get_saga",
    "list_sagas",
    "step_log",
    "list_dead_letters",
    "get_dead_letter",
    "list_alerts",
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
OUTAGE_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Api:
    base: str
    system: SagaSystem


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A uvicorn server (in a thread) serving the generated system, and the system."""
    state = tmp_path_factory.mktemp("fuzz") / "state.db"
    system = GENERATED.package.build_system(f"sqlite:///{state}")
    try:
        with uvicorn_thread(example_app(system, TOKEN)) as base:
            yield Api(base, system)
    finally:
        system.store.close()


@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    # The token as the document's `operator` bearer scheme, so that the negative cases
    # that leave it out (and expect 401) are sent without it; the saga type the system
    # has, most of the time, so that starts reach the input checks.
    config = schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"operator": {"bearer": TOKEN}}},
            "dictionaries": {"saga_types": {"values": ["create_order"]}},
            "parameters": {"path.saga_name": {"dictionary": "saga_types", "probability": 0.8}},
        }
    )
    return schemathesis.openapi.from_url(f"{api.base}/api/openapi.json", config=config)


@pytest.fixture
def store_down(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every store read the API makes fails as an unreachable database does."""

    def unreachable(*args: object, **kwargs: object) -> Any:
        raise StoreUnavailable("the fuzzed store is down", fix="wait", retry_after_s=0.2)

    for name in OUTAGE_METHODS:
        monkeypatch.setattr(api.system.store, name, unreachable)


def fuzz(api_schema: Any, examples: int, check: Callable[[Any], None]) -> None:
    """Run ``check`` on ``examples`` generated cases of every operation, valid and invalid
    (derandomized, so every run sends the same requests). Hypothesis drives schemathesis'
    strategies directly: no pytest plugin internals involved."""
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def one(case: Any) -> None:
                short_drain(case)
                check(case)

            try:
                one()
            except Unsatisfiable:
                # Nothing of this operation can be made invalid (e.g. no parameters).
                assert mode is GenerationMode.NEGATIVE, operation.label


def test_every_response_matches_the_openapi_document(api_schema: Any) -> None:
    fuzz(api_schema, MAX_EXAMPLES, lambda case: case.call_and_validate(checks=CHECKS, timeout=30))


def test_during_a_store_outage_every_response_still_matches_the_document(
    api_schema: Any, store_down: None
) -> None:
    def check(case: Any) -> None:
        response = case.call_and_validate(checks=OUTAGE_CHECKS, timeout=30)
        assert response.status_code != 500, response.text
        if response.status_code == 503:
            assert response.headers["retry-after"] == ["1"]  # 0.2 s, rounded up

    fuzz(api_schema, OUTAGE_EXAMPLES, check)


def short_drain(case: Any) -> None:
    """A valid drain waits up to ``timeout_s``: at most a second here."""
    drain_timeout = (case.query or {}).get("timeout_s")
    if case.path == "/api/admin/drain" and isinstance(drain_timeout, int | float):
        case.query["timeout_s"] = min(drain_timeout, 1)


def test_the_document_declares_the_error_body_for_every_error_of_every_operation(
    api: Api,
) -> None:
    with urllib.request.urlopen(f"{api.base}/api/openapi.json", timeout=30) as response:
        document = json.loads(response.read())
    error_ref = "#/components/schemas/ErrorBody"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"400", "413", "500"} <= set(responses), (method, path)
            for code, described in responses.items():
                if int(code) >= 400:
                    schema = described["content"]["application/json"]["schema"]
                    assert schema == {"$ref": error_ref}, (method, path, code)
            if operation.get("security"):
                assert {"401", "403"} <= set(responses), (method, path)
    assert document["paths"]["/healthz"]["get"]["responses"]["503"]["headers"]["Retry-After"]
    assert document["components"]["securitySchemes"]["operator"]["scheme"] == "bearer"
