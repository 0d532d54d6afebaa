"""The ``dead-letters`` commands of ``sagacrew``: list, show and redrive parked compensations.

::

    sagacrew dead-letters list DIR [--status parked|redrive_requested|redriven|resolved|all]
    sagacrew dead-letters show DIR ID
    sagacrew dead-letters redrive DIR ID

``redrive`` starts the system on the store, which recovers every saga in flight: run it
when no other process drives sagas on the same store. A redrive that fails again is exit
code 1. ``crew/cli_ops.py``'s ``register(app)`` adds the ``dead_letters`` group.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from sagacrew.crew.cli_ops_common import (
    EXIT_FAILED,
    StoreUrl,
    SystemDir,
    _built,
    _cell,
    _open,
    _ops_errors,
    _rows_table,
    _while_started,
    err,
    out,
)


class Status(StrEnum):
    """Which dead letters ``list`` shows."""

    parked = "parked"
    redrive_requested = "redrive_requested"
    redriven = "redriven"
    resolved = "resolved"
    all = "all"


dead_letters = typer.Typer(
    name="dead-letters",
    help="List, show and redrive dead-lettered compensations.",
    no_args_is_help=True,
)


@dead_letters.command("list")
def list_command(
    system_dir: SystemDir,
    store: StoreUrl = None,
    status: Annotated[Status, typer.Option(help="Which dead letters.")] = Status.parked,
) -> None:
    """List dead letters (parked ones by default), oldest first."""
    with _ops_errors():
        from sagacrew.runtime import open_store
        from sagacrew.runtime.operations import list_dead_letters

        _, url = _open(system_dir, store)
        with open_store(url) as opened:
            letters = list_dead_letters(
                opened, status=None if status is Status.all else status.value
            )
        if not letters:
            which = "" if status is Status.all else f"{status.value} "
            out.print(f"no {which}dead letters in {url}", markup=False)
            return
        table = _rows_table(
            f"{len(letters)} dead letter(s)",
            ("id", "kind", "status", "saga", "step", "attempts", "error"),
        )
        for letter in letters:
            table.add_row(
                _cell(letter.id),
                _cell(letter.kind),
                _cell(letter.status),
                _cell(letter.saga_id or "-"),
                _cell(letter.step_name or "-"),
                _cell(letter.attempts),
                _cell(letter.error, 160),
            )
        out.print(table)


@dead_letters.command("show")
def show_command(
    system_dir: SystemDir,
    dead_letter_id: Annotated[int, typer.Argument(metavar="ID", help="The dead letter's id.")],
    store: StoreUrl = None,
) -> None:
    """Show one dead letter in full: payload, error, attempts."""
    with _ops_errors():
        from sagacrew.runtime import open_store
        from sagacrew.runtime.operations import (
            compensation_attempts,
            describe_dead_letter,
            show_dead_letter,
        )

        _, url = _open(system_dir, store)
        with open_store(url) as opened:
            letter = show_dead_letter(opened, dead_letter_id)
            attempts = compensation_attempts(opened, letter)
        out.print(describe_dead_letter(letter, attempts), markup=False)


@dead_letters.command("redrive")
def redrive_command(
    system_dir: SystemDir,
    dead_letter_id: Annotated[int, typer.Argument(metavar="ID", help="The dead letter's id.")],
    store: StoreUrl = None,
    wait_timeout_s: Annotated[
        float,
        typer.Option("--wait-timeout-s", min=0.0, help="Seconds to wait for its saga first."),
    ] = 30.0,
) -> None:
    """Run a parked compensation again (starting the system recovers sagas in flight)."""
    with _ops_errors():
        from sagacrew.runtime.operations import check_redrivable, redrive_dead_letter

        system, url = _open(system_dir, store)
        with _built(system, url) as saga_system:
            check_redrivable(saga_system.store, dead_letter_id)
            recovered, outcome = _while_started(
                saga_system,
                lambda: redrive_dead_letter(
                    saga_system, dead_letter_id, wait_timeout_s=wait_timeout_s
                ),
            )
        summary = outcome.summary()
        if recovered:
            out.print(f"recovered {len(recovered)} saga(s) in flight", markup=False)
        if not outcome.succeeded:
            err.print(f"sagacrew: {summary}", markup=False)
            raise typer.Exit(EXIT_FAILED)
        out.print(summary, markup=False)
