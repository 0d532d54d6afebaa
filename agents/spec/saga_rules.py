"""Rules for sagas: step names, invoke targets, triggers, and the pivot.

A step invokes ``context.aggregate.command`` or ``external.operation``; step names are
unique in their saga; a saga has at most one pivot; every step before the pivot (every
step, without a pivot) must be compensatable: ``create``, ``update``, ``delete``,
``query`` (nothing to undo), ``reserve`` with a matching ``release``, an external
operation that declares an ``undo`` or is a ``query``, or a step that names its own
``compensate_with`` (a command of its aggregate, an operation of its external system).
A trigger names a command or an event.
"""

from __future__ import annotations

from collections.abc import Iterator

from sagacrew.agents.spec.catalog import Catalog, CommandEntry, OperationEntry, SagaEntry
from sagacrew.agents.spec.model import CommandKind, SagaStep
from sagacrew.agents.spec.naming import suggestion
from sagacrew.agents.spec.step_data_rules import check_step_data
from sagacrew.agents.spec.violation import Path, Violation

__all__ = ["check_sagas", "compensation_gap"]

Target = CommandEntry | OperationEntry


def check_sagas(catalog: Catalog) -> list[Violation]:
    """Every saga-level problem of the catalog's sagas."""
    commands = catalog.commands()
    operations = catalog.operations()
    events = set(catalog.command_events()) | catalog.completion_events()
    violations: list[Violation] = []
    for saga in catalog.sagas.values():
        base: Path = ("sagas", saga.name)
        violations.extend(_trigger(base, saga, commands, events))
        violations.extend(_step_names(base, saga))
        targets: list[Target | None] = []
        for index, step in enumerate(saga.steps):
            target = None
            if step is not None:
                target = _resolve(step, commands, operations)
                if target is None:
                    violations.append(_unknown_target(base, index, step, commands, operations))
            targets.append(target)
        violations.extend(_custom_compensations(base, saga, targets, commands, operations))
        violations.extend(check_step_data(base, saga, targets, catalog))
        violations.extend(_timeouts(base, saga))
        violations.extend(_pivot(base, saga, targets, catalog))
        violations.extend(_locks(base, saga, targets))
    return violations


def _locks(base: Path, saga: SagaEntry, targets: list[Target | None]) -> Iterator[Violation]:
    """``lock`` is for aggregate steps that write (not queries, not external calls), and
    a ``release`` follows an ``acquire`` of the same aggregate in the saga."""
    acquired: set[str] = set()
    for index, (step, target) in enumerate(zip(saga.steps, targets, strict=True)):
        if step is None or step.lock in (None, "none") or target is None:
            continue
        path: Path = (*base, "steps", index, "lock")
        if isinstance(target, OperationEntry):
            yield Violation(
                path,
                f"step '{step.name}' calls an external system, which a semantic lock cannot hold",
                "remove `lock:`; lock the aggregate a step before or after writes instead",
            )
            continue
        if target.model is not None and target.model.kind is CommandKind.QUERY:
            yield Violation(
                path,
                f"step '{step.name}' is a query, which writes nothing to lock",
                "put `lock:` on a step that writes the aggregate",
            )
            continue
        address = f"{target.context}.{target.aggregate}"
        if step.lock == "acquire":
            acquired.add(address)
        elif address not in acquired:
            yield Violation(
                path,
                f"step '{step.name}' releases a lock on {address} that no earlier step of "
                f"saga '{saga.name}' acquires",
                f"add `lock: acquire` to the first step that writes {address}, or remove "
                "this `lock: release`",
            )


def _timeouts(base: Path, saga: SagaEntry) -> Iterator[Violation]:
    """``on_timeout: compensate`` only before the pivot (after it nothing compensates)."""
    pivot = next((i for i, s in enumerate(saga.steps) if s is not None and s.pivot), None)
    for index, step in enumerate(saga.steps):
        if step is None or step.on_timeout != "compensate":
            continue
        if pivot is not None and index > pivot:
            yield Violation(
                (*base, "steps", index, "on_timeout"),
                f"step '{step.name}' comes after the pivot, where a saga no longer compensates",
                "use `on_timeout: retry` (retried until the deadline) or `on_timeout: stall`",
            )


def _owner(target: Target) -> str:
    """The aggregate (``context.aggregate``) or external system a target belongs to."""
    if isinstance(target, OperationEntry):
        return target.system
    return f"{target.context}.{target.aggregate}"


def _custom_compensations(
    base: Path,
    saga: SagaEntry,
    targets: list[Target | None],
    commands: dict[str, CommandEntry],
    operations: dict[str, OperationEntry],
) -> Iterator[Violation]:
    """``compensate_with`` names a known command of the step's own aggregate (or an
    operation of its own external system) that changes something, other than the step's."""
    for index, (step, target) in enumerate(zip(saga.steps, targets, strict=True)):
        if step is None or step.compensate_with is None or target is None:
            continue
        path: Path = (*base, "steps", index, "compensate_with")
        custom = step.compensate_with
        undo = commands.get(custom) if custom.count(".") == 2 else operations.get(custom)
        owner = _owner(target)
        if undo is None:
            siblings = [name for name in [*commands, *operations] if name.startswith(owner + ".")]
            yield Violation(
                path,
                f"step '{step.name}' compensates with unknown '{custom}'",
                suggestion(custom, siblings or [*commands, *operations]),
            )
        elif _owner(undo) != owner:
            yield Violation(
                path,
                f"step '{step.name}' writes {owner} but would be compensated on {_owner(undo)}",
                f"compensate with a command of {owner} (the undo acts on what the step did), "
                "or add a step for the other one",
            )
        elif custom == step.invoke:
            yield Violation(
                path,
                f"step '{step.name}' cannot be compensated by its own command '{custom}'",
                f"name the command of {owner} that reverses it, e.g. a reject or cancel",
            )
        elif _reads_only(undo):
            yield Violation(
                path,
                f"'{custom}' only reads, so it cannot compensate step '{step.name}'",
                f"name a command of {owner} that changes state, e.g. a reject or cancel",
            )


def _reads_only(target: Target) -> bool:
    model = target.model
    if isinstance(target, OperationEntry):
        return model is not None and model.kind == "query"
    return model is not None and model.kind is CommandKind.QUERY


def compensation_gap(target: Target, catalog: Catalog) -> str | None:
    """Why ``target`` cannot be compensated, or ``None`` if it can (or is unknown)."""
    if isinstance(target, OperationEntry):
        if target.model is None or target.model.undo is not None or _reads_only(target):
            return None
        return f"operation '{target.target}' declares no undo"
    command = target.model
    if command is None:
        return None
    if command.kind is CommandKind.RELEASE:
        return f"command '{target.target}' is a release, which has no compensation"
    if command.kind is CommandKind.RESERVE and command.quantity_field is not None:
        aggregate = catalog.aggregates.get((target.context, target.aggregate))
        siblings = aggregate.commands.values() if aggregate is not None else []
        released = any(
            other.model is not None
            and other.model.kind is CommandKind.RELEASE
            and other.model.quantity_field == command.quantity_field
            for other in siblings
        )
        if not released:
            return f"reserve command '{target.target}' has no matching release command"
    return None


def _resolve(
    step: SagaStep, commands: dict[str, CommandEntry], operations: dict[str, OperationEntry]
) -> Target | None:
    if step.invoke.count(".") == 2:
        return commands.get(step.invoke)
    return operations.get(step.invoke)


def _unknown_target(
    base: Path,
    index: int,
    step: SagaStep,
    commands: dict[str, CommandEntry],
    operations: dict[str, OperationEntry],
) -> Violation:
    three_parts = step.invoke.count(".") == 2
    kind = "command" if three_parts else "external operation"
    hint = suggestion(step.invoke, [*commands, *operations])
    if not hint.startswith("did you mean"):
        pool = commands if three_parts else operations
        hint = suggestion(step.invoke, pool)
    return Violation(
        (*base, "steps", index, "invoke"),
        f"step '{step.name}' invokes unknown {kind} '{step.invoke}'",
        hint,
    )


def _trigger(
    base: Path, saga: SagaEntry, commands: dict[str, CommandEntry], events: set[str]
) -> Iterator[Violation]:
    trigger = saga.trigger
    if trigger is None or trigger in commands or trigger in events:
        return
    yield Violation(
        (*base, "trigger"),
        f"trigger '{trigger}' is neither a known command (`context.aggregate.command`) "
        "nor a known event",
        suggestion(trigger, [*commands, *events]),
    )


def _step_names(base: Path, saga: SagaEntry) -> Iterator[Violation]:
    seen: dict[str, int] = {}
    for index, name in enumerate(saga.raw_step_names):
        if not isinstance(name, str):
            continue
        name = name.strip()
        if name in seen:
            yield Violation(
                (*base, "steps", index, "name"),
                f"duplicate step name '{name}' (also step {seen[name] + 1})",
                f"give each step of saga '{saga.name}' its own name, e.g. `{name}_{index + 1}`",
            )
        else:
            seen[name] = index


def _pivot(
    base: Path, saga: SagaEntry, targets: list[Target | None], catalog: Catalog
) -> Iterator[Violation]:
    pivots = [index for index, step in enumerate(saga.steps) if step is not None and step.pivot]
    for index in pivots[1:]:
        first = saga.steps[pivots[0]]
        first_name = first.name if first is not None else "?"
        yield Violation(
            (*base, "steps", index, "pivot"),
            f"saga '{saga.name}' has more than one pivot (step '{first_name}' is already "
            "the pivot)",
            "keep `pivot: true` on one step only: the go/no-go step",
        )
    if any(step is None for step in saga.steps):
        return
    end = pivots[0] if pivots else len(saga.steps)
    pivot_step = saga.steps[pivots[0]] if pivots else None
    for index in range(end):
        step, target = saga.steps[index], targets[index]
        if step is None or target is None or step.compensate_with is not None:
            continue
        gap = compensation_gap(target, catalog)
        if gap is None:
            continue
        undo = _undo_fix(target)
        if pivot_step is None:
            message = (
                f"step '{step.name}' cannot be compensated ({gap}) and saga '{saga.name}' "
                "has no pivot"
            )
            fix = f"mark it (or an earlier step) as the pivot with `pivot: true`, or {undo}"
        else:
            message = (
                f"step '{step.name}' comes before the pivot '{pivot_step.name}' but cannot "
                f"be compensated ({gap})"
            )
            fix = (
                f"move it after the pivot, mark it (or an earlier step) as the pivot "
                f"instead, or {undo}"
            )
        yield Violation((*base, "steps", index), message, fix)


def _undo_fix(target: Target) -> str:
    if isinstance(target, OperationEntry):
        return (
            f"declare an undo on operation '{target.name}', e.g. "
            f"`undo: cancel_{target.name}` with a `cancel_{target.name}` operation"
        )
    command = target.model
    if command is not None and command.kind is CommandKind.RESERVE:
        return (
            f"declare an undo: add a release command with "
            f"`quantity_field: {command.quantity_field}` to aggregate '{target.aggregate}'"
        )
    return "declare an undo: invoke a compensatable command (create, update, delete, reserve)"
