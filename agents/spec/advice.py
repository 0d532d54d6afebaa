"""Warnings about a valid spec: what it allows but sagas get wrong under concurrency or
unknown outcomes (sagas are ACD without I; Richardson, *Microservices Patterns* ch. 4).

A warning does not stop generation; it names the place, the anomaly and the notation
that avoids it:

- an ``update`` that assigns a numeric field from a caller-supplied value (e.g.
  ``params: [balance_cents]``): two sagas on one aggregate lose each other's update, and a
  compensation restoring the before-image would overwrite the other's change. Write a
  commutative update, ``delta: {balance_cents: -amount_cents}``;
- a saga step whose external operation has no ``undo`` at the pivot, or waits for a
  completion event: when it times out its outcome is unknown and the saga cannot undo it,
  so it ends ``stalled`` for an operator.
"""

from __future__ import annotations

from collections.abc import Iterator

from sagacrew.agents.spec.model import CommandKind, DomainSpec
from sagacrew.agents.spec.violation import Violation

__all__ = ["advise"]


def advise(spec: DomainSpec) -> list[Violation]:
    """Every warning for ``spec`` (a spec that passed validation), in spec order."""
    return [*_overwritten_numbers(spec), *_unknown_outcomes(spec)]


def _overwritten_numbers(spec: DomainSpec) -> Iterator[Violation]:
    for context_name, context in spec.contexts.items():
        for aggregate_name, aggregate in context.aggregates.items():
            for command_name, command in aggregate.commands.items():
                if command.kind is not CommandKind.UPDATE or command.params is None:
                    continue
                for index, param in enumerate(command.params):
                    kind = aggregate.fields.get(param)
                    if kind not in ("int", "float") or param == aggregate.identity:
                        continue
                    path = ("contexts", context_name, "aggregates", aggregate_name)
                    yield Violation(
                        (*path, "commands", command_name, "params", index),
                        f"update '{command_name}' overwrites the {kind} field '{param}' with "
                        "a value its caller computed: concurrent sagas on one "
                        f"{aggregate_name} lose each other's update, and a compensation "
                        "cannot restore it without overwriting theirs",
                        f"make it a commutative update: `params: [amount]` and "
                        f"`delta: {{{param}: -amount}}` (or `+amount`)",
                    )


def _unknown_outcomes(spec: DomainSpec) -> Iterator[Violation]:
    for saga_name, saga in spec.sagas.items():
        for index, step in enumerate(saga.steps):
            parts = step.invoke.split(".")
            if len(parts) != 2:
                continue
            system, operation_name = parts
            operation = spec.externals[system].operations[operation_name]
            if operation.undo is not None:
                continue
            if step.pivot:
                why = "it is the pivot"
            elif operation.completion_event:
                why = f"it completes later by {operation.completion_event}"
            else:
                continue
            yield Violation(
                ("sagas", saga_name, "steps", index, "invoke"),
                f"step '{step.name}' calls {step.invoke}, which has no undo, and {why}: when "
                "it times out its outcome is unknown and the saga cannot undo it, so the saga "
                "ends stalled for an operator",
                f"declare `undo:` for operation '{operation_name}' of '{system}', or accept "
                "resolving such sagas by hand",
            )
