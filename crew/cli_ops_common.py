"""Shared plumbing of the operations commands (``dead-letters``, ``rollback``, ``remediate``,
``streams``, ``alerts``): consoles and exit codes, the argument types, one-line errors,
opening a generated system folder with its store, and running work on its started system.

As in the rest of the CLI, a user's mistake is one line on stderr and exit code 2; an
operation that ran but did not succeed is exit code 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from sagacrew.agents.generated import GeneratedSystem
    from sagacrew.runtime import SagaSystem

T = TypeVar("T")

EXIT_USER_ERROR = 2
"""A mistake the user can fix (as in ``crew/cli.py``)."""
EXIT_FAILED = 1
"""The operation ran but did not succeed (as a failed verdict in ``crew/cli.py``)."""

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class Profile(StrEnum):
    """The threshold profiles of a generated system's blueprint."""

    dev = "dev"
    prod = "prod"


SystemDir = Annotated[Path, typer.Argument(help="A folder written by `sagacrew generate`.")]
StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (default: the one `sagacrew run` uses, "
        "sqlite under DIR/.sagacrew/runtime.db).",
    ),
]
DrainTimeout = Annotated[
    float,
    typer.Option("--drain-timeout-s", min=0.0, help="Seconds to wait for sagas in flight."),
]
ProfileOption = Annotated[Profile, typer.Option(help="Threshold profile.")]


@contextmanager
def _ops_errors() -> Iterator[None]:
    """The main CLI's one-line errors, plus the operations' and the sagas' own."""
    from sagacrew.crew import cli_base as cli
    from sagacrew.runtime.operations import OperationsError
    from sagacrew.runtime.saga import SagaError

    with cli._user_errors():
        try:
            yield
        except (OperationsError, SagaError) as error:
            if cli._debug:
                raise
            err.print(f"sagacrew: {error}", markup=False)
            raise typer.Exit(EXIT_USER_ERROR) from None


def default_store_url(system: GeneratedSystem) -> str:
    """The store ``sagacrew run`` writes: SQLite at ``DIR/.sagacrew/runtime.db``."""
    from sagacrew.agents.validator.verification.verify import sqlite_url

    return sqlite_url(system.state_dir / "runtime.db")


def _open(system_dir: Path, store: str | None) -> tuple[GeneratedSystem, str]:
    """The generated system in ``system_dir`` and its store URL (``store``, or the default
    one, which must exist already)."""
    from sagacrew.agents.generated import open_generated
    from sagacrew.runtime.operations import OperationsError

    system = open_generated(system_dir)
    if store is not None:
        return system, store
    database = system.state_dir / "runtime.db"
    if not database.is_file():
        raise OperationsError(
            f"{database}: no store yet",
            fix=f"run `sagacrew run {system_dir}` first, or pass --store URL",
        )
    return system, default_store_url(system)


def _build(system: GeneratedSystem, url: str) -> SagaSystem:
    """The generated system's ``SagaSystem`` on the store at ``url`` (not started)."""
    saga_system: SagaSystem = system.definition(url)
    return saga_system


@contextmanager
def _built(system: GeneratedSystem, url: str) -> Iterator[SagaSystem]:
    """:func:`_build`, closing the system's store when the block ends."""
    saga_system = _build(system, url)
    try:
        yield saga_system
    finally:
        saga_system.store.close()


def _while_started(
    saga_system: SagaSystem, work: Callable[[], Awaitable[T]]
) -> tuple[list[str], T]:
    """Start ``saga_system`` (which recovers the sagas in flight), await ``work()``, stop
    it; the ids of the recovered sagas and what ``work`` returned."""

    async def go() -> tuple[list[str], T]:
        recovered = await saga_system.start()
        try:
            return recovered, await work()
        finally:
            await saga_system.stop()

    return asyncio.run(go())


def _reports_dir(system: GeneratedSystem) -> Path:
    """Where rollback and incident reports go: ``DIR/.sagacrew/reports``."""
    return system.state_dir / "reports"


def _cell(text: object, limit: int = 80) -> Text:
    """``text`` as a table cell, cut to ``limit`` characters with ``...``."""
    value = str(text)
    return Text(value if len(value) <= limit else value[: limit - 3] + "...")


def _rows_table(title: str, columns: Sequence[str]) -> Table:
    """A table of stored rows for an operator: ``saga`` and ``error`` fold (at least 8
    and 12 wide), ``attempts`` is right-aligned, every other column does not wrap."""
    table = Table(title=title)
    for column in columns:
        if column in ("saga", "error"):
            table.add_column(column, overflow="fold", min_width=8 if column == "saga" else 12)
        elif column == "attempts":
            table.add_column(column, no_wrap=True, justify="right")
        else:
            table.add_column(column, no_wrap=True)
    return table
