"""Rules for what a saga step sends: ``with`` (where each parameter comes from) and
``for_each`` (the list a step fans out over).

- a ``with`` key is a parameter the step's command or operation takes (for an aggregate
  also its identity, and ``amount`` for a reserve/release);
- ``steps.<step>.<field>`` names a step that runs before this one in the same saga;
- ``item`` / ``item.<field>`` only in a ``for_each`` step;
- ``for_each`` names a saga input or ``steps.<step>.<field>`` of an earlier step.
"""

from __future__ import annotations

from collections.abc import Iterator

from sagacrew.agents.spec.catalog import Catalog, CommandEntry, OperationEntry, SagaEntry
from sagacrew.agents.spec.model import CommandKind, SagaStep
from sagacrew.agents.spec.naming import suggestion
from sagacrew.agents.spec.violation import Path, Violation

__all__ = ["check_step_data", "step_parameters"]

Target = CommandEntry | OperationEntry


def step_parameters(target: Target, catalog: Catalog) -> list[str] | None:
    """The payload keys a step on ``target`` sends, or ``None`` when unknown (invalid)."""
    if isinstance(target, OperationEntry):
        return None if target.model is None else list(target.model.params)
    aggregate = catalog.aggregates.get((target.context, target.aggregate))
    command = target.model
    if aggregate is None or aggregate.model is None or command is None:
        return None
    keys = [aggregate.model.identity, *aggregate.model.command_params(command)]
    if command.kind in (CommandKind.RESERVE, CommandKind.RELEASE):
        keys.append("amount")
    return list(dict.fromkeys(keys))


def check_step_data(
    base: Path, saga: SagaEntry, targets: list[Target | None], catalog: Catalog
) -> Iterator[Violation]:
    """Every ``with``/``for_each`` problem of ``saga``'s steps."""
    earlier: list[str] = []
    for index, (step, target) in enumerate(zip(saga.steps, targets, strict=True)):
        if step is None:
            continue
        path: Path = (*base, "steps", index)
        if step.for_each is not None:
            yield from _source((*path, "for_each"), step, step.for_each, earlier)
        parameters = step_parameters(target, catalog) if target is not None else None
        for key, source in step.with_.items():
            where: Path = (*path, "with", key)
            if parameters is not None and key not in parameters:
                yield Violation(
                    where,
                    f"step '{step.name}' sends no parameter '{key}' ({step.invoke} takes "
                    f"{', '.join(parameters) or 'none'})",
                    suggestion(key, parameters),
                )
                continue
            yield from _source(where, step, source, earlier)
        earlier.append(step.name)


def _source(where: Path, step: SagaStep, source: str, earlier: list[str]) -> Iterator[Violation]:
    if source.startswith("steps."):
        _, name, _field = source.split(".")
        if name == step.name or name not in earlier:
            when = "is this step" if name == step.name else "does not run before it"
            yield Violation(
                where,
                f"step '{step.name}' reads '{source}', but step '{name}' {when}",
                suggestion(name, earlier)
                if earlier
                else "read a saga input instead: no step runs before this one",
            )
    elif (source == "item" or source.startswith("item.")) and (
        step.for_each is None or where[-1] == "for_each"
    ):
        yield Violation(
            where,
            f"step '{step.name}' reads '{source}' but does not fan out",
            "add `for_each: <list>` to the step, or read a saga input",
        )
