"""What every ``sagacrew`` command shares: the typer app, the consoles, the exit codes, the
global options and the turning of a user's mistake into one line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    name="sagacrew",
    help="Turn a domain spec into an actor/saga system, run it, and prove it consistent.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# emoji=False: rich would print an error's ``:100:`` (a line number) as an emoji. Text
# that names a file, a finding or an error is printed with markup=False as well.
out = Console(soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
_debug = False

EXIT_USER_ERROR = 2
EXIT_FAILED = 1


def _flags_without_a_type() -> None:
    """Show an on/off option as the flag it is (``--skip-tests``), not ``--skip-tests
    <bool>``: typer's rich help gives every option a type column, flags included, which
    reads as if the flag took a value. Options with a ``metavar`` keep it."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_sagacrew_flags", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag and self.metavar is None:
            return None
        return shown(self, ctx)

    display_type_rich._sagacrew_flags = True  # type: ignore[attr-defined]
    setattr(TyperOption, "display_type_rich", display_type_rich)  # noqa: B010


_flags_without_a_type()


class Profile(StrEnum):
    dev = "dev"
    prod = "prod"


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every saga transition.")
    ] = False,
) -> None:
    global _debug
    _debug = debug
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sagacrew").setLevel(
        logging.DEBUG if debug else logging.INFO if verbose else logging.ERROR
    )


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one line each and exit code 2."""
    from sagacrew.agents.spec import SpecErrors

    try:
        yield
    except SpecErrors as errors:
        if _debug:
            raise
        for error in errors.errors:
            err.print(str(error), markup=False)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except _known_errors() as error:
        if _debug:
            raise
        err.print(f"sagacrew: {error}", markup=False)
        raise typer.Exit(EXIT_USER_ERROR) from None


def _known_errors() -> tuple[type[Exception], ...]:
    """The errors of other packages that carry a message a user can act on."""
    from sagacrew.agents.generated import GeneratedSystemError
    from sagacrew.agents.spec import SpecError
    from sagacrew.crew.emit import EmitError
    from sagacrew.crew.llm import LlmConfigError
    from sagacrew.runtime.store import StoreError
    from sagacrew.runtime.tracing import TracingError

    known: tuple[type[Exception], ...] = (
        SpecError,
        EmitError,
        GeneratedSystemError,
        StoreError,
        TracingError,
        LlmConfigError,
        OSError,  # a folder that cannot be written, a file in the way: the OS says why
    )
    try:
        from sagacrew.runtime.api import ServeError
    except ImportError:  # the API's extras (fastapi, uvicorn) are not installed
        return known
    return (*known, ServeError)
