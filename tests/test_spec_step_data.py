"""Per-step data (``with``) and fan-out (``for_each``) in the spec: valid and invalid
forms with their positions and fixes, what the agents and the emitter make of them, and
what the generated system does at run time."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_systems import compensated_after_refusal
from spec_systems import generated_system

from sagacrew.agents.spec import parse_spec
from sagacrew.crew.pipeline import design
from sagacrew.runtime import SagaState
from sagacrew.runtime import SystemDefinition
from sagacrew.runtime import open_store
from sagacrew.runtime.testing import run_one_saga
from tests.test_spec_rules import changed
from tests.test_spec_rules import error_at

SPEC = (Path(__file__).parent / "data" / "specs" / "trips.yaml").read_text("utf-8")


def test_the_sample_is_valid_and_the_inputs_follow_the_with_mappings() -> None:
    blueprint = design(parse_spec(SPEC, "s.yaml"), "s.yaml")
    assert blueprint.sagas is not None
    assert blueprint.sagas.sagas[0].inputs == {
        "flight_no": "str",
        "seat_id": "str",
        "seats": "int",
        "hotel_id": "str",
        "rooms": "int",
        "stops": "list[str]",
        "trip_id": "str",
    }


@pytest.mark.parametrize(
    ("old", "new", "needle", "message", "fix"),
    [
        (
            "with: {amount: seats}",
            "with: {amont: seats}",
            "seats}",
            "step 'reserve_seats' sends no parameter 'amont' (travel.seat.reserve_seats takes "
            "seat_id, amount)",
            "did you mean 'amount'?",
        ),
        (
            "flight_ref: steps.book_flight.resource_id",
            "flight_ref: steps.add_stops.resource_id",
            "steps.add_stops.resource_id",
            "step 'reserve_rooms' reads 'steps.add_stops.resource_id', but step 'add_stops' "
            "does not run before it",
            None,
        ),
        (
            "with: {amount: seats}",
            "with: {amount: item}",
            "item}",
            "step 'reserve_seats' reads 'item' but does not fan out",
            "add `for_each: <list>` to the step, or read a saga input",
        ),
        (
            "for_each: stops",
            "for_each: steps.add_stops.ids",
            "steps.add_stops.ids",
            "step 'add_stops' reads 'steps.add_stops.ids', but step 'add_stops' is this step",
            None,
        ),
    ],
)
def test_a_wrong_with_or_for_each_is_an_error_at_its_place(
    old: str, new: str, needle: str, message: str, fix: str | None
) -> None:
    text = changed(old, new, SPEC)
    error = error_at(text, needle)
    assert error.message == message
    if fix is not None:
        assert error.fix == fix


@pytest.fixture(scope="module")
def trips(tmp_path_factory: pytest.TempPathFactory) -> SystemDefinition:
    build, code = generated_system(SPEC, tmp_path_factory.mktemp("trips"), "trips")
    assert 'Send("travel.seat", "reserve_seats", "seat_id", amount="seats")' in code
    assert 'flight_ref=FromStep("book_flight", "resource_id")' in code
    assert 'ForEach("stops", Send("travel.stop", "add_stop", "trip_id", stop_id=Item()))' in code
    return build


def _events(url: str, prefix: str) -> dict[str, list[str]]:
    store = open_store(url)
    try:
        return {
            stream: [e.event_type for e in store.read_stream(stream)]
            for stream in store.stream_ids(prefix)
        }
    finally:
        store.close()


def test_each_step_sends_its_own_data_and_fans_out_per_item(
    trips: SystemDefinition, sqlite_url: str
) -> None:
    result, _ = run_one_saga(trips, sqlite_url, "book_trip")
    assert result.state == SagaState.COMPLETED, result.error
    data = trips.sample_inputs("book_trip", 0)
    store = open_store(sqlite_url)
    try:
        (room,) = store.stream_ids("travel.room")
        reserved = store.read_stream(room)[0].payload
        (seat,) = store.stream_ids("travel.seat")
        seats = store.read_stream(seat)[0].payload
        (call,) = store.list_external_calls(system="airline")
    finally:
        store.close()
    assert (seats["amount"], reserved["amount"]) == (data["seats"], data["rooms"])
    assert reserved["flight_ref"] == call.resource_id
    assert sorted(_events(sqlite_url, "travel.stop")) == sorted(
        f"travel.stop:{s}" for s in data["stops"]
    )


def test_a_refusal_after_the_fan_out_undoes_every_done_step_in_reverse(
    trips: SystemDefinition, sqlite_url: str
) -> None:
    compensated = compensated_after_refusal(trips, sqlite_url, "book_trip", "add_stops")
    assert compensated == ["reserve_rooms", "reserve_seats", "book_flight"]
    assert all(events == [] for events in _events(sqlite_url, "travel.stop").values())
