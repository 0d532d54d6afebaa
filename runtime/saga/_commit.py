"""A run's writes on the store's writer thread, off the event loop: group commit of saga
transitions (those persisted while the previous batch commits share one transaction, see
:class:`~sagacrew.runtime.store.GroupCommitter`), and a worker's per-saga lease writes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sagacrew.runtime.store import (
    GroupCommitter,
    SagaTransition,
    Store,
    StoreError,
    TransitionIds,
)

logger = logging.getLogger("sagacrew.runtime.saga")


def transition_committer(store: Store) -> GroupCommitter[SagaTransition, TransitionIds]:
    """A group committer writing saga transitions to ``store``."""
    return GroupCommitter(
        store.apply_saga_transitions, store.apply_saga_transition, writer=store.writer_thread()
    )


async def release_lease(store: Store, owner: str, saga_id: str) -> None:
    """Give up ``owner``'s lease of a saga that ended (after its last transition: a commit
    per saga on the event loop would stop every saga); a failure is logged, as the lease
    expires by itself."""
    try:
        await store.writer_thread().submit(lambda: store.release_lease(owner, saga_id))
    except StoreError as error:
        logger.warning("lease not released: %s", error, extra={"saga_id": saga_id})


async def post_to_inbox(
    store: Store, correlation_id: str, event_name: str, payload: Mapping[str, Any], now: float
) -> None:
    """Keep a completion event for the worker that drives its saga (its inbox)."""
    await store.writer_thread().submit(
        lambda: store.post_to_inbox(correlation_id, event_name, payload, now)
    )
