"""Group commit of saga transitions, on the store's writer thread: those persisted while
the previous batch commits share one transaction (see
:class:`~sagacrew.runtime.store.GroupCommitter`)."""

from __future__ import annotations

from sagacrew.runtime.store import GroupCommitter, SagaTransition, Store, TransitionIds


def transition_committer(store: Store) -> GroupCommitter[SagaTransition, TransitionIds]:
    """A group committer writing saga transitions to ``store``."""
    return GroupCommitter(
        store.apply_saga_transitions, store.apply_saga_transition, writer=store.writer_thread()
    )
