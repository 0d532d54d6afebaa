"""The ``versions`` command of ``sagacrew``: the saga versions a generated system keeps.

::

    sagacrew versions DIR [--store URL]                each saga's versions, with live counts
    sagacrew versions DIR --drop VERSION [--store URL] remove an earlier version

A version is a digest of a saga's plan (``agents/versions.py``); ``generate`` keeps the
versions a spec change superseded, for the sagas that started on them. ``--drop`` removes
one from ``blueprint.json`` and writes the system again from it (``earlier_sagas.py``
goes when the last earlier version does); the current version of a saga is refused.
Whether a version is still used (sagas in flight or with a compensation in the
dead-letter queue on it) is for the store to say: with ``--store URL`` (or the store
``sagacrew run`` writes, when there is one) each version is listed with its live count,
and ``--drop`` refuses a version still in use; with no store at all, ``--drop`` says it
did not check. A user's mistake is one line on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sagacrew.crew.cli_base import EXIT_USER_ERROR, _user_errors, err, out


def versions(
    system_dir: Annotated[
        Path, typer.Argument(metavar="DIR", help="A generated system (with its blueprint.json).")
    ],
    drop: Annotated[
        str | None,
        typer.Option(metavar="VERSION", help="Remove this earlier version of a saga."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(metavar="URL", help="The store to count live sagas in (default: run's)."),
    ] = None,
) -> None:
    """List each saga's versions (current and earlier, with the spec they came from), or
    drop an earlier one."""
    with _user_errors():
        from sagacrew.agents.versions import VersionError, drop_version, list_versions
        from sagacrew.crew.pipeline import read_blueprint, write_blueprint

        if not (system_dir / "blueprint.json").is_file():
            err.print(
                f"sagacrew versions: {system_dir} has no blueprint.json; pass the folder "
                "`sagacrew generate` wrote (e.g. generated/<system>)",
                markup=False,
            )
            raise typer.Exit(EXIT_USER_ERROR)
        blueprint = read_blueprint(system_dir)
        live = _live_counts(system_dir, store)
        if drop is None:
            for version in list_versions(blueprint):
                count = None if live is None else live.get((version.saga, version.version), 0)
                out.print(version.describe(count), markup=False, highlight=False)
            return
        try:
            kept = drop_version(blueprint, drop, live)
        except VersionError as error:
            err.print(f"sagacrew versions: {error}", markup=False)
            raise typer.Exit(EXIT_USER_ERROR) from None
        write_blueprint(kept, system_dir)
        out.print(f"dropped {drop}; {system_dir} written again from its blueprint", markup=False)
        if live is None:
            err.print(
                f"note: no store was consulted: make sure no saga in flight or in the "
                f"dead-letter queue started on {drop}",
                markup=False,
            )


def _live_counts(system_dir: Path, store: str | None) -> dict[tuple[str, str], int] | None:
    """Sagas per (saga, version) that still need their plan, from ``store`` or the store
    ``sagacrew run`` writes in ``system_dir``; ``None`` when there is neither."""
    from sagacrew.agents.validator.verification.verify import sqlite_url
    from sagacrew.runtime.loader import STATE_DIR
    from sagacrew.runtime.store import StoreError, open_store

    if store is None:
        database = system_dir / STATE_DIR / "runtime.db"
        if not database.is_file():
            return None
        store = sqlite_url(database)
    try:
        with open_store(store) as opened:
            return opened.live_versions()
    except StoreError as error:
        err.print(f"sagacrew versions: {error}", markup=False)
        raise typer.Exit(EXIT_USER_ERROR) from None
