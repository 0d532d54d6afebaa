"""The event store and the runtime's operational tables, over SQLite or PostgreSQL.

One interface, :class:`Store`; two real backends chosen by URL with :func:`open_store`.
The tables are those of ``schema.sql`` (the contract other components query).
"""

from sagacrew.runtime.store._base import Store
from sagacrew.runtime.store._errors import ConcurrencyError, DuplicateCommandError, StoreError
from sagacrew.runtime.store._open import open_store
from sagacrew.runtime.store._records import (
    UNSET,
    DeadLetter,
    DeadLetterUpdate,
    ExternalCall,
    NewEvent,
    RecordedEvent,
    SagaExecution,
    SagaTransition,
    SagaUpdate,
    Snapshot,
    StepLogEntry,
    TransitionIds,
    Unset,
)

__all__ = [
    "UNSET",
    "ConcurrencyError",
    "DeadLetter",
    "DeadLetterUpdate",
    "DuplicateCommandError",
    "ExternalCall",
    "NewEvent",
    "RecordedEvent",
    "SagaExecution",
    "SagaTransition",
    "SagaUpdate",
    "Snapshot",
    "StepLogEntry",
    "Store",
    "StoreError",
    "TransitionIds",
    "Unset",
    "open_store",
]
