"""JSON encoding of the TEXT columns, and decoding of rows into records.

Every decoding error is a :class:`CorruptRecord` (data corruption: retrying cannot help)
naming the table and the row's key (stream and version, saga id, ...) and saying how to
repair it.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, get_args, get_type_hints

from sagacrew.runtime.store._errors import CorruptRecord, StoreError
from sagacrew.runtime.store._records import (
    DeadLetter,
    ExternalCall,
    RecordedEvent,
    SagaExecution,
    StepLogEntry,
)

EVENT_COLUMNS = (
    "position, stream_id, version, event_type, event_version, payload, metadata, "
    "message_id, correlation_id, causation_id, recorded_at"
)
SAGA_COLUMNS = (
    "saga_id, saga_name, state, step_index, steps_total, steps_completed, pivot_index, data, "
    "correlation_id, causation_id, started_at, updated_at, deadline_at, ended_at, error, "
    "definition_version"
)
STEP_COLUMNS = (
    "seq, saga_id, step_index, step_name, phase, status, attempt, compensatable, "
    "idempotency_key, started_at, ended_at, latency_ms, error, result, correlation_id, "
    "causation_id"
)
DEAD_LETTER_COLUMNS = (
    "id, kind, saga_id, step_index, step_name, target, payload, error, attempts, status, "
    "correlation_id, causation_id, created_at, updated_at"
)
EXTERNAL_CALL_COLUMNS = (
    "idempotency_key, system, operation, resource_id, status, request, response, "
    "correlation_id, causation_id, created_at, updated_at"
)


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""Compact JSON with sorted keys (byte-stable); made once, not at every call."""


def _not_json(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encoder() -> Callable[[Mapping[str, Any]], str]:
    """``_ENCODER.encode``, byte for byte, through one C encoder made once: ``encode``
    makes a new one at every call, which cost more than encoding a step's result. Without
    a circular-reference check (the C encoder's recursion limit stands in for it: its
    error becomes the same ``ValueError``)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the standard path
        return _ENCODER.encode
    encoder = make(
        None, _not_json, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, True
    )

    def encode(value: Mapping[str, Any]) -> str:
        try:
            return "".join(encoder(value, 0))
        except RecursionError:
            raise ValueError("Circular reference detected (or nesting too deep)") from None

    return encode


_encode = _encoder()


class EncodedObject(dict[str, Any]):
    """A JSON object (a plain dict to its readers) that carries its encoding, ``text``:
    a value encoded once (a step's result, checked to be JSON when the step returns it)
    is not encoded again when its row is written. Build it with :func:`encoded`; do not
    change it afterwards (the text would no longer match)."""

    __slots__ = ("text",)

    def __init__(self, value: Mapping[str, Any], text: str) -> None:
        super().__init__(value)
        self.text = text


def encoded(value: Mapping[str, Any]) -> EncodedObject:
    """``value`` as an :class:`EncodedObject` (encoded as :func:`dumps` encodes it);
    ``TypeError`` or ``ValueError`` when it is not JSON-serialisable."""
    plain = value if type(value) is dict else dict(value)
    return EncodedObject(plain, _encode(plain))


def dumps(value: Mapping[str, Any], *, what: str) -> str:
    """Encode a mapping as compact JSON with sorted keys (byte-stable)."""
    if type(value) is EncodedObject:
        return value.text
    try:
        return _encode(value if type(value) is dict else dict(value))
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"{what} is not JSON-serialisable: {exc}",
            fix="pass only str, int, float, bool, None, lists and dicts with str keys",
        ) from exc


def stream_repair(stream_id: str, version: int) -> str:
    """The fix of a broken ``events`` row: the operator commands that inspect and repair it."""
    return (
        f"inspect the stream with `sagacrew streams inspect DIR {stream_id}`, then repair the "
        f"row with `sagacrew streams repair DIR {stream_id} --version {version} --payload JSON` "
        "(or restore it from a backup); never delete or renumber events"
    )


def loads_object(
    text: object,
    *,
    where: str,
    repair: str,
    stream_id: str | None = None,
    version: int | None = None,
    saga_id: str | None = None,
) -> dict[str, Any]:
    """Decode a JSON object column; anything else is a :class:`CorruptRecord` located by
    ``stream_id``/``version`` or ``saga_id`` (when given)."""
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError as exc:
        problem = f"{where} is not valid JSON ({exc})"
    else:
        if isinstance(value, dict):
            return value
        problem = f"{where} is not a JSON object: {text!r:.80}"
    raise CorruptRecord(problem, fix=repair, stream_id=stream_id, version=version, saga_id=saga_id)


R = TypeVar("R")

_SCALARS: frozenset[type] = frozenset({str, int, float, bool})
"""The field types a column converts to by calling the type: ``int(value)``..."""

Convert = Callable[[Any], Any]


def _optional(convert: Convert) -> Convert:
    """``convert`` for a nullable column: ``None`` stays ``None``."""
    return lambda value: None if value is None else convert(value)


def _converter(hint: object) -> Convert | None:
    """How a column becomes a field typed ``hint`` (a scalar type, or an optional one);
    ``None`` for anything else: a JSON object, which its reader decodes."""
    if isinstance(hint, type) and hint in _SCALARS:
        return hint
    if isinstance(hint, types.UnionType):
        kinds = [kind for kind in get_args(hint) if kind is not type(None)]
        if len(kinds) == 1 and kinds[0] in _SCALARS:
            return _optional(kinds[0])
    return None


_PLANS: dict[tuple[type, str], tuple[tuple[int, str, Convert], ...]] = {}
""":func:`_plan`'s answers, worked out once for each record type and column list."""


def _plan(record: type, columns: str) -> tuple[tuple[int, str, Convert], ...]:
    """Where in a row selected with ``columns`` each scalar field of ``record`` stands,
    with its converter (the JSON columns are left out: their reader decodes them)."""
    plan = _PLANS.get((record, columns))
    if plan is None:
        hints = get_type_hints(record)
        scalars = []
        for index, name in enumerate(column.strip() for column in columns.split(",")):
            convert = _converter(hints[name])
            if convert is not None:
                scalars.append((index, name, convert))
        plan = _PLANS[(record, columns)] = tuple(scalars)
    return plan


def record_from_row(record: type[R], columns: str, row: Sequence[Any], **decoded: Any) -> R:
    """``row``, selected with ``columns``, as a ``record``: each scalar column converted to
    its field's type (``int(value)``...; ``None`` kept in an optional field). ``decoded``
    gives the other fields: the JSON columns, decoded by the caller, and any field the
    row does not hold. ``TypeError`` or ``ValueError`` when a column does not convert."""
    values = {name: convert(row[index]) for index, name, convert in _plan(record, columns)}
    return record(**values, **decoded)


def event_from_row(row: tuple[Any, ...]) -> RecordedEvent:
    """Decode an ``events`` row selected with :data:`EVENT_COLUMNS`."""
    return raw_event(str(row[1]), (row[0], *row[2:]))


_RAW_EVENT_COLUMNS = (
    "position, version, event_type, event_version, payload, metadata, message_id, "
    "correlation_id, causation_id, recorded_at"
)
"""The columns of a row :func:`raw_event` decodes: the ``events`` columns but the stream."""


def raw_event(stream_id: str, row: Sequence[Any]) -> RecordedEvent:
    """Decode a row of ``stream_id`` as :meth:`EventRecorder.raw_events` returns it (the
    ``events`` columns but the stream id, payload and metadata as stored text)."""
    version = int(row[1])
    repair = stream_repair(stream_id, version)

    def column(index: int, name: str) -> dict[str, Any]:
        return loads_object(
            row[index],
            where=f"events.{name} of stream {stream_id!r} version {version}",
            repair=repair,
            stream_id=stream_id,
            version=version,
        )

    try:
        return record_from_row(
            RecordedEvent,
            _RAW_EVENT_COLUMNS,
            row,
            stream_id=stream_id,
            payload=column(4, "payload"),
            metadata=column(5, "metadata"),
        )
    except (TypeError, ValueError) as exc:  # a column of the wrong type
        raise CorruptRecord(
            f"events row of stream {stream_id!r} version {version} is malformed ({exc})",
            fix=repair,
            stream_id=stream_id,
            version=version,
        ) from exc


def saga_from_row(row: tuple[Any, ...]) -> SagaExecution:
    """Decode a ``saga_executions`` row selected with :data:`SAGA_COLUMNS`."""
    saga_id = str(row[0])
    repair = (
        f"restore saga_executions.data of saga {saga_id!r} from the results of its succeeded "
        "steps in saga_step_log, then restart the system (it resumes the saga)"
    )
    try:
        data = loads_object(
            row[7],
            where=f"saga_executions.data of saga {saga_id!r}",
            repair=repair,
            saga_id=saga_id,
        )
        return record_from_row(SagaExecution, SAGA_COLUMNS, row, data=data)
    except (TypeError, ValueError) as exc:  # a column of the wrong type
        raise CorruptRecord(
            f"saga_executions row of saga {saga_id!r} is malformed ({exc})",
            fix="correct the row's columns by hand or restore the row from a backup, then "
            "restart the system (it resumes the saga)",
            saga_id=saga_id,
        ) from exc


def step_from_row(row: tuple[Any, ...]) -> StepLogEntry:
    """Decode a ``saga_step_log`` row selected with :data:`STEP_COLUMNS`."""
    result = None
    if row[13] is not None:
        result = loads_object(
            row[13],
            where=f"saga_step_log.result of row seq={row[0]} (saga {row[1]!r})",
            repair="restore the step's result from the service's processed_commands row",
            saga_id=str(row[1]),
        )
    return record_from_row(StepLogEntry, STEP_COLUMNS, row, result=result)


def dead_letter_from_row(row: tuple[Any, ...]) -> DeadLetter:
    """Decode a ``dead_letters`` row selected with :data:`DEAD_LETTER_COLUMNS`."""
    payload = loads_object(
        row[6],
        where=f"dead_letters.payload of id {row[0]}",
        repair="rebuild the payload from the saga's step log before redriving",
        saga_id=None if row[2] is None else str(row[2]),
    )
    return record_from_row(DeadLetter, DEAD_LETTER_COLUMNS, row, payload=payload)


def external_call_from_row(row: tuple[Any, ...]) -> ExternalCall:
    """Decode an ``external_calls`` row selected with :data:`EXTERNAL_CALL_COLUMNS`."""
    key = str(row[0])
    repair = "restore the row from the external system's own records"
    return record_from_row(
        ExternalCall,
        EXTERNAL_CALL_COLUMNS,
        row,
        request=loads_object(row[5], where=f"external_calls.request of {key!r}", repair=repair),
        response=loads_object(row[6], where=f"external_calls.response of {key!r}", repair=repair),
    )
