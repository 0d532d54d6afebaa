"""Fresh saga and correlation ids sort by the time they were made (UUIDv7), so the
store's rows of sagas started together sit side by side in its indexes."""

from __future__ import annotations

import time
import uuid

from async_helpers import run
from saga_fakes import Harness
from saga_fakes import ObservedStore
from saga_fakes import do
from saga_fakes import undo

from sagacrew.runtime import new_ordered_id
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaStep


def test_ordered_ids_are_uuid7_and_sort_by_the_millisecond_they_were_made() -> None:
    made = []
    for _ in range(5):
        made.append(new_ordered_id())
        time.sleep(0.002)
    assert made == sorted(made) and len(set(made)) == 5
    parsed = [uuid.UUID(hex=made_id) for made_id in made]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert abs(int(made[0][:12], 16) / 1000 - time.time()) < 5, "starts with the time in ms"


def test_sagas_started_without_ids_get_ids_in_start_order(store: ObservedStore) -> None:
    h = Harness(store, [SagaDefinition("order", [SagaStep("reserve", do("r"), undo("r"))])])

    async def main() -> list[tuple[str, str]]:
        started = []
        for _ in range(3):
            saga_id = await h.orchestrator.start("order", {})
            await h.orchestrator.wait(saga_id)
            saga = store.get_saga(saga_id)
            assert saga is not None
            started.append((saga_id, saga.correlation_id))
            time.sleep(0.002)
        await h.orchestrator.close()
        return started

    started = run(main)
    assert [saga_id for saga_id, _ in started] == sorted(saga_id for saga_id, _ in started)
    assert [c for _, c in started] == sorted(c for _, c in started)
    assert uuid.UUID(hex=started[0][0]).version == 7
