"""Row-by-row diagnosis of one event stream, for ``sagacrew streams inspect|repair``.

The rows are read raw (``Store.query``), so a broken row is shown, not raised: a payload
or metadata that is not a JSON object, a missing version (a gap), and, given the
stream's aggregate, an event it cannot apply (an unknown type, no upcaster, a payload
its rules cannot read: the replay is run row by row up to the first broken row).
:func:`check_stream` can also try a repair without writing it (``repair``), so an
operator's replacement is refused when the row would still be broken.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagacrew.runtime.aggregate import AggregateActor
from sagacrew.runtime.store import CorruptRecord, Store, raw_event


@dataclass(frozen=True)
class Repair:
    """A replacement for the row at ``version``: its payload, and optionally its metadata
    and event type (``None``: keep the stored one)."""

    version: int
    payload: Mapping[str, Any]
    metadata: Mapping[str, Any] | None = None
    event_type: str | None = None


@dataclass(frozen=True)
class RowCheck:
    """One stored row: ``problem`` says why it is broken (``None``: it is fine);
    ``replayed`` is False for a row after a broken one (its JSON was checked, but it was
    not applied: the state before it is unknown)."""

    version: int
    event_type: str
    event_version: int
    payload: str
    metadata: str
    problem: str | None
    replayed: bool


@dataclass(frozen=True)
class StreamCheck:
    """The diagnosis of a stream: its rows in version order and the missing versions."""

    stream_id: str
    rows: tuple[RowCheck, ...]
    missing: tuple[int, ...]
    aggregate: str | None
    """The address of the aggregate that replayed the rows (``None``: none matched)."""

    @property
    def broken(self) -> list[RowCheck]:
        """The rows that cannot be read or applied."""
        return [row for row in self.rows if row.problem is not None]

    @property
    def healthy(self) -> bool:
        """True when the stream replays: no broken row, no gap."""
        return not self.broken and not self.missing

    def row(self, version: int) -> RowCheck | None:
        """The row at ``version``, or ``None`` when the stream has none."""
        return next((row for row in self.rows if row.version == version), None)


def aggregate_for(stream_id: str, actors: list[AggregateActor]) -> AggregateActor | None:
    """The aggregate whose streams are named ``<address>:<id>``, like ``stream_id``."""
    address = stream_id.partition(":")[0]
    return next((actor for actor in actors if actor.address == address), None)


def check_stream(
    store: Store,
    stream_id: str,
    actor: AggregateActor | None,
    repair: Repair | None = None,
) -> StreamCheck:
    """Diagnose every row of ``stream_id`` (as if ``repair`` were written, when given)."""
    rows = store.raw_events(stream_id)
    checks: list[RowCheck] = []
    missing: list[int] = []
    state: dict[str, Any] | None = None
    exists, replaying = False, actor is not None
    for row in rows:
        version, event_type = int(row[1]), str(row[2])
        payload_text, metadata_text = str(row[4]), str(row[5])
        if repair is not None and repair.version == version:
            event_type = repair.event_type or event_type
            payload_text = json.dumps(dict(repair.payload), sort_keys=True)
            if repair.metadata is not None:
                metadata_text = json.dumps(dict(repair.metadata), sort_keys=True)
        expected = (checks[-1].version if checks else 0) + 1
        missing.extend(range(expected, version))
        if version != expected:
            replaying = False  # the state before this row is unknown
        problem = _problem(payload_text, "payload") or _problem(metadata_text, "metadata")
        replayed = replaying and problem is None
        if replayed and actor is not None:
            checked = (row[0], version, event_type, row[3], payload_text, metadata_text)
            event = raw_event(stream_id, (*checked, *row[6:]))
            try:
                state, exists = actor.fold([event], state, exists)
            except CorruptRecord as error:
                problem = error.message
        replaying = replaying and problem is None
        checks.append(
            RowCheck(
                version, event_type, int(row[3]), payload_text, metadata_text, problem, replayed
            )
        )
    address = None if actor is None else actor.address
    return StreamCheck(stream_id, tuple(checks), tuple(missing), address)


def _problem(text: str, column: str) -> str | None:
    """Why the column's text is not a JSON object, or ``None`` when it is one."""
    try:
        value = json.loads(text)
    except ValueError as error:
        return f"{column} is not valid JSON ({error})"
    if not isinstance(value, dict):
        return f"{column} is not a JSON object (it is a JSON {type(value).__name__})"
    return None
