"""The event store and the runtime's operational tables, over SQLite or PostgreSQL.

One interface, :class:`Store`; two real backends chosen by URL with :func:`open_store`.
The tables are those of ``schema.sql`` (the contract other components query).
"""

from typing import TYPE_CHECKING

from sagacrew.runtime.store._base import Store
from sagacrew.runtime.store._codec import EncodedObject, encoded, raw_event
from sagacrew.runtime.store._errors import (
    ConcurrencyError,
    CorruptRecord,
    DuplicateCommandError,
    LeaseLost,
    StoreError,
    StoreUnavailable,
)
from sagacrew.runtime.store._event_recorder import EventRecorder
from sagacrew.runtime.store._group import GroupCommitter, event_appender, ledger_writer
from sagacrew.runtime.store._lease_recorder import LeaseRecorder
from sagacrew.runtime.store._log_recorder import LogRecorder
from sagacrew.runtime.store._open import open_store
from sagacrew.runtime.store._operations_recorder import (
    ExternalCallChange,
    ExternalCallUpdate,
    LedgerWrite,
    OperationsRecorder,
)
from sagacrew.runtime.store._saga_recorder import SagaRecorder
from sagacrew.runtime.store._sqlite import SqliteStore

if TYPE_CHECKING:
    from sagacrew.runtime.store._postgres import PostgresStore
from sagacrew.runtime.store._records import (
    UNSET,
    AlertCore,
    AlertRecord,
    AppendRequest,
    DeadLetter,
    DeadLetterUpdate,
    ExternalCall,
    Fence,
    MessageLogEntry,
    NewEvent,
    RecordedEvent,
    SagaExecution,
    SagaSummary,
    SagaTransition,
    SagaUpdate,
    Snapshot,
    StepLogEntry,
    StoredRun,
    TransitionIds,
    Unset,
    WorkerCounts,
    WorkerRecord,
)

__all__ = [
    "UNSET",
    "AlertCore",
    "AlertRecord",
    "AppendRequest",
    "ConcurrencyError",
    "CorruptRecord",
    "DeadLetter",
    "DeadLetterUpdate",
    "DuplicateCommandError",
    "EncodedObject",
    "EventRecorder",
    "ExternalCall",
    "ExternalCallChange",
    "ExternalCallUpdate",
    "Fence",
    "GroupCommitter",
    "LeaseLost",
    "LeaseRecorder",
    "LedgerWrite",
    "LogRecorder",
    "MessageLogEntry",
    "NewEvent",
    "OperationsRecorder",
    "PostgresStore",
    "RecordedEvent",
    "SagaExecution",
    "SagaRecorder",
    "SagaSummary",
    "SagaTransition",
    "SagaUpdate",
    "Snapshot",
    "SqliteStore",
    "StepLogEntry",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoredRun",
    "TransitionIds",
    "Unset",
    "WorkerCounts",
    "WorkerRecord",
    "encoded",
    "event_appender",
    "ledger_writer",
    "open_store",
    "raw_event",
]


def __getattr__(name: str) -> object:
    """``PostgresStore`` is imported on first use, so SQLite-only users never load psycopg."""
    if name == "PostgresStore":
        from sagacrew.runtime.store._postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
