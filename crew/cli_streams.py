"""Stream commands of ``sagacrew``: inspect and repair a corrupt (quarantined) event stream.

``register(app)`` adds them to the main CLI::

    sagacrew streams inspect DIR STREAM [--store URL]
    sagacrew streams repair DIR STREAM --version N --payload JSON
                            [--metadata JSON] [--event-type TYPE] [--reason TEXT] [--store URL]

A stream whose rows cannot be replayed (bad JSON, a version gap, an event type the
aggregate does not emit, a payload it cannot apply) is quarantined by its aggregate: its
commands are refused, with an alert. ``inspect`` lists every row of the stream (version,
type, event version) and says which rows are broken and why; it exits 1 when the stream
is broken. ``repair`` replaces the payload (and optionally the metadata and the event
type) of exactly one broken row with the operator's valid JSON, after checking that the
row is broken and that the replacement applies; the original texts are kept in the
event's metadata under ``repaired``, and events are never deleted or renumbered. The
aggregate lifts the quarantine by itself on the next command, whose replay now succeeds.

Both work on a generated system folder ``DIR`` and its store, by default the one
``sagacrew run`` writes (``DIR/.sagacrew/runtime.db``; ``--store URL`` for another). A
user's mistake or a refused repair is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sagacrew.crew.cli_ops_common import (
    EXIT_FAILED,
    StoreUrl,
    SystemDir,
    _build,
    _open,
    _ops_errors,
    out,
)

if TYPE_CHECKING:
    from sagacrew.runtime import SagaSystem
    from sagacrew.runtime._stream_check import Repair, StreamCheck

streams = typer.Typer(
    name="streams",
    help="Inspect and repair a corrupt (quarantined) event stream.",
    no_args_is_help=True,
)

StreamId = Annotated[
    str, typer.Argument(metavar="STREAM", help="The stream id, e.g. ordering.order:o-1.")
]


@contextmanager
def _system(system_dir: Path, store: str | None) -> Iterator[SagaSystem]:
    """The generated system over its store (not started: nothing runs), closed after."""
    saga_system = _build(*_open(system_dir, store))
    try:
        yield saga_system
    finally:
        saga_system.store.close()


def _check(saga_system: SagaSystem, stream_id: str, repair: Repair | None = None) -> StreamCheck:
    from sagacrew.runtime._stream_check import aggregate_for, check_stream
    from sagacrew.runtime.operations import OperationsError

    actor = aggregate_for(stream_id, saga_system.aggregate_prototypes())
    check = check_stream(saga_system.store, stream_id, actor, repair)
    if not check.rows:
        raise OperationsError(
            f"stream {stream_id!r} has no events",
            fix="pass a stream id as `<context>.<aggregate>:<id>`, e.g. from the alert "
            "that named it",
        )
    return check


def _print(check: StreamCheck, system_dir: Path) -> None:
    """Every row, then what is broken and the command that repairs it."""
    aggregate = check.aggregate or "no aggregate of this system (JSON checked only)"
    out.print(f"stream {check.stream_id}: {len(check.rows)} event(s), replayed by {aggregate}")
    out.print(f"{'version':>7}  {'event_version':>13}  {'event_type':<40}  status", markup=False)
    for row in check.rows:
        if row.problem is not None:
            status = f"BROKEN: {row.problem}"
        else:
            status = "ok" if row.replayed or check.aggregate is None else "ok (not replayed)"
        out.print(
            f"{row.version:>7}  {row.event_version:>13}  {row.event_type:<40}  {status}",
            markup=False,
        )
        if row.problem is not None:
            out.print(f"{'':>7}  payload:  {row.payload[:200]}", markup=False)
            out.print(f"{'':>7}  metadata: {row.metadata[:200]}", markup=False)
    for version in check.missing:
        out.print(
            f"{version:>7}  MISSING: restore event {version} from a backup "
            "(events are never renumbered)",
            markup=False,
        )
    if check.healthy:
        out.print("the stream replays cleanly", markup=False)
        return
    if check.broken:
        first = check.broken[0]
        retype = " --event-type TYPE" if "event type" in (first.problem or "") else ""
        out.print(
            f"repair with: sagacrew streams repair {system_dir} {check.stream_id} "
            f"--version {first.version}{retype} --payload '<JSON object>'",
            markup=False,
        )


@streams.command("inspect")
def inspect_command(system_dir: SystemDir, stream: StreamId, store: StoreUrl = None) -> None:
    """List every row of a stream and say which are broken and why (exit 1 if any)."""
    with _ops_errors(), _system(system_dir, store) as saga_system:
        check = _check(saga_system, stream)
    _print(check, system_dir)
    if not check.healthy:
        raise typer.Exit(EXIT_FAILED)


def _json_object(text: str | None, option: str) -> dict[str, Any] | None:
    from sagacrew.runtime.operations import OperationsError

    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise OperationsError(
            f"{option} is not valid JSON ({error})", fix=f"pass a JSON object to {option}"
        ) from None
    if not isinstance(value, dict):
        raise OperationsError(
            f"{option} is a JSON {type(value).__name__}, not an object",
            fix=f'pass a JSON object to {option}, e.g. \'{{"id": "x"}}\'',
        )
    return value


@streams.command("repair")
def repair_command(
    system_dir: SystemDir,
    stream: StreamId,
    version: Annotated[int, typer.Option("--version", min=1, help="The broken row's version.")],
    payload: Annotated[str, typer.Option("--payload", help="The row's new payload (JSON).")],
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="New metadata (JSON; default: kept).")
    ] = None,
    event_type: Annotated[
        str | None, typer.Option("--event-type", help="New event type (default: kept).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "",
    store: StoreUrl = None,
) -> None:
    """Replace the payload of ONE broken row with valid JSON (the original is kept)."""
    from sagacrew.runtime._stream_check import Repair
    from sagacrew.runtime.operations import OperationsError

    with _ops_errors(), _system(system_dir, store) as saga_system:
        repair = Repair(
            version,
            _json_object(payload, "--payload") or {},
            _json_object(metadata, "--metadata"),
            event_type,
        )
        row = _check(saga_system, stream).row(version)
        inspect = f"list the rows with `sagacrew streams inspect {system_dir} {stream}`"
        if row is None:
            raise OperationsError(
                f"stream {stream!r} has no event at version {version}", fix=inspect
            )
        if row.problem is None:
            why = "it reads and applies" if row.replayed else "its JSON reads"
            raise OperationsError(
                f"event {version} of stream {stream!r} is not broken ({why}); nothing repaired",
                fix=f"repair only a row marked BROKEN; {inspect}",
            )
        after = _check(saga_system, stream, repair).row(version)
        if after is not None and after.problem is not None:
            raise OperationsError(
                f"the new event {version} of stream {stream!r} would still be broken "
                f"({after.problem}); nothing repaired",
                fix="pass a payload (and --event-type) the aggregate can apply",
            )
        saga_system.store.repair_event(
            stream,
            version,
            payload=repair.payload,
            metadata=repair.metadata,
            event_type=event_type,
            reason=reason or f"sagacrew streams repair: {row.problem}",
        )
        check = _check(saga_system, stream)
    out.print(
        f"repaired event {version} of {stream} (was: {row.problem}); the original is kept "
        "in its metadata under 'repaired'",
        markup=False,
    )
    _print(check, system_dir)
    if not check.healthy:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Add ``streams`` (inspect, repair) to ``app``; registering twice adds nothing."""
    if any(group.name == "streams" for group in app.registered_groups):
        return
    app.add_typer(streams, name="streams")
