"""Group commit: concurrent transitions share a transaction; a bad one fails alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

from saga_fakes import saga_row

from sagacrew.runtime.saga import transition_committer
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import SagaUpdate
from sagacrew.runtime.store import StoreError
from sagacrew.runtime.store import open_store


def saga(saga_id: str) -> SagaExecution:
    """A running one-step saga, created by a transition."""
    return saga_row(saga_id, "running", 1.0, saga_name="s", steps_total=1)


def test_transitions_of_one_loop_iteration_share_one_batch(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'c.db'}")
    committer = transition_committer(store)

    async def scenario() -> None:
        await asyncio.gather(
            *(committer.apply(SagaTransition(create=saga(f"s-{i}"))) for i in range(20))
        )

    try:
        asyncio.run(scenario())
        assert (committer.batches, committer.requests) == (1, 20)
        assert len(store.list_sagas()) == 20
    finally:
        store.close()


def test_a_failing_transition_fails_alone_and_the_rest_of_its_batch_commits(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite://{tmp_path / 'c.db'}")
    committer = transition_committer(store)

    async def scenario() -> tuple[object, ...]:
        return await asyncio.gather(
            committer.apply(SagaTransition(create=saga("a"))),
            committer.apply(SagaTransition(update=SagaUpdate("missing", 1.0, state="x"))),
            committer.apply(SagaTransition(create=saga("b"))),
            return_exceptions=True,
        )

    try:
        first, bad, last = asyncio.run(scenario())
        assert isinstance(bad, StoreError)
        assert not isinstance(first, BaseException) and not isinstance(last, BaseException)
        assert {s.saga_id for s in store.list_sagas()} == {"a", "b"}
    finally:
        store.close()


def test_flush_without_pending_transitions_does_nothing(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'c.db'}")
    try:
        committer = transition_committer(store)
        committer.flush()
        assert committer.batches == 0
    finally:
        store.close()
