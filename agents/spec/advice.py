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
  so it ends ``stalled`` for an operator;
- a workload whose ``business_failure_rate`` alone keeps the success rate under a
  profile's gate (``verify`` could never pass).
"""

from __future__ import annotations

from collections.abc import Iterator

from sagacrew.agents.spec.catalog import aggregate_path
from sagacrew.agents.spec.model import CommandKind, DomainSpec
from sagacrew.agents.spec.violation import Violation

__all__ = ["advise"]


def advise(spec: DomainSpec) -> list[Violation]:
    """Every warning for ``spec`` (a spec that passed validation), in spec order."""
    return [*_overwritten_numbers(spec), *_unknown_outcomes(spec), *_unreachable_gates(spec)]


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
                    path = aggregate_path(context_name, aggregate_name)
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
            if operation.undo is not None or operation.kind == "query" or step.compensate_with:
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


def _unreachable_gates(spec: DomainSpec) -> Iterator[Violation]:
    """A workload whose business refusals alone keep the success rate under a profile's
    gate: each saga meets a refusal with probability ``business_failure_rate`` and then
    compensates, so at best ``1 - business_failure_rate`` of the sagas complete."""
    rate = spec.workload.business_failure_rate
    failing = {
        name: t.success_rate_min
        for name, t in spec.profiles.items()
        if 1.0 - rate < t.success_rate_min
    }
    if not failing:
        return
    gates = ", ".join(f"{name} {minimum:.1%}" for name, minimum in failing.items())
    limits = ", ".join(f"{1.0 - minimum:.3g} for {name}" for name, minimum in failing.items())
    yield Violation(
        ("workload", "business_failure_rate"),
        f"business_failure_rate {rate:g} refuses that share of the sagas, so at most "
        f"{1.0 - rate:.1%} complete: the success_rate_min gate ({gates}) cannot pass",
        f"lower it to at most {limits}, or lower the profile's success_rate_min",
    )
