"""The external-calls ledger as gateways and completion events use it from the event loop.

Reads go to the store's read connection, as every read does. Writes go to the store's
writer thread and share its commits (:func:`~sagacrew.runtime.store.ledger_writer`): a
ledger write waits for the disk (an ``fsync`` on SQLite) or for the server, and made on
the event loop it stopped every saga for as long as it lasted. Each writer still awaits
its own commit before it answers, so the ledger is written before the call is answered.
"""

from __future__ import annotations

from typing import Unpack

from sagacrew.runtime.store import (
    ExternalCall,
    ExternalCallChange,
    ExternalCallUpdate,
    Store,
    ledger_writer,
)


async def record_call(store: Store, call: ExternalCall) -> bool:
    """Record ``call`` in the ledger (see :meth:`Store.record_external_call`): ``False``,
    and nothing written, when its key has a row already."""
    return bool(await ledger_writer(store).apply(call))


async def update_call(
    store: Store, idempotency_key: str, **change: Unpack[ExternalCallChange]
) -> ExternalCall:
    """Change the call under ``idempotency_key`` (see :meth:`Store.update_external_call`);
    the call as it now is."""
    now = await ledger_writer(store).apply(ExternalCallUpdate(idempotency_key, change))
    assert isinstance(now, ExternalCall)
    return now
