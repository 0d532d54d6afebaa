"""Saga Orchestrator: saga definitions with compensations derived from command kinds.

Compensation by kind (Garcia-Molina & Salem; Richardson's FTGO sagas):

=========  =============================================================
create     delete what was created (the aggregate's delete command if it
           declares one, else the runtime's built-in ``_delete``)
update     restore the before-image captured when the step ran (``_restore``)
delete     re-create from the before-image (``_recreate``)
reserve    the aggregate's ``release`` command on the same quantity field
release    the aggregate's ``reserve`` command on the same quantity field
query      nothing to undo (an aggregate query, or an external ``kind: query``)
external   the operation's declared ``undo``; none: not compensatable
=========  =============================================================

A step's ``compensate_with`` replaces the derived compensation (``custom``: a command of
the same aggregate, run only when the step's command acted; or an operation of the same
external system, as its undo).

Each step and each compensation records the payload it sends (``saga_payloads.py``).

Steps after the pivot are retriable: retried until they succeed or the deadline passes.
The spec's rules (``agents/spec/rules.py``) have already rejected a non-compensatable step
before the pivot, so every step here before the pivot has a compensation or is a query.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from sagacrew.agents.blueprint import (
    ActorSpec,
    Blueprint,
    Compensation,
    SagaPart,
    SagaSpec,
    StepSpec,
)
from sagacrew.agents.flowchart import build_flowchart
from sagacrew.agents.naming import BUILTIN_COMPENSATIONS, actor_address, pascal
from sagacrew.agents.saga_inputs import SagaInputs
from sagacrew.agents.saga_payloads import entry_from, step_payload, with_payload
from sagacrew.agents.spec.model import (
    Aggregate,
    Command,
    CommandKind,
    DomainSpec,
    Operation,
    Saga,
    SagaStep,
)
from sagacrew.agents.versions import saga_version


class _Call(NamedTuple):
    """The actor a step's command goes to, and what follows from its kind (an aggregate's
    command, or an external system's operation)."""

    actor: ActorSpec
    command: str
    kind: CommandKind
    compensation: Compensation | None
    completion_event: str | None = None
    completion_timeout_s: float | None = None
    """How long an external call's completion event may take (for a step setting no
    ``timeout_s``)."""


class SagaOrchestratorAgent:
    """Turns the spec's sagas into step lists with compensations, retries and flowcharts."""

    def contribute(self, spec: DomainSpec, blueprint: Blueprint) -> SagaPart:
        assert blueprint.actors is not None, "the Actor Architect's part comes first"
        actors = {actor.name: actor for actor in blueprint.actors.actors}
        sagas = [self._saga(spec, name, saga, actors) for name, saga in spec.sagas.items()]
        # Each saga's version: a digest of its plan (agents/versions.py).
        return SagaPart(sagas=[s.model_copy(update={"version": saga_version(s)}) for s in sagas])

    def _saga(
        self, spec: DomainSpec, name: str, saga: Saga, actors: dict[str, ActorSpec]
    ) -> SagaSpec:
        pivot_index = next((i for i, step in enumerate(saga.steps) if step.pivot), None)
        locks = semantic_locks(spec, saga)
        steps: list[StepSpec] = []
        inputs = SagaInputs()
        for index, step in enumerate(saga.steps):
            inputs.fan_out(step)
            if len(step.invoke.split(".")) == 3:
                call = self._aggregate_call(spec, step, actors, inputs)
            else:
                call = _external_call(spec, step, actors, inputs)
            steps.append(
                StepSpec(
                    index=index,
                    name=step.name,
                    invoke=step.invoke,
                    target=call.actor.name,
                    command=call.command,
                    kind=call.kind,
                    pivot=step.pivot,
                    compensatable=call.compensation is not None or call.kind is CommandKind.QUERY,
                    retriable=pivot_index is not None and index > pivot_index,
                    compensation=(
                        with_payload(call.compensation, actors, step.with_)
                        if call.compensation
                        else None
                    ),
                    timeout_s=step.timeout_s or call.completion_timeout_s or saga.step_timeout_s,
                    retry=step.retry or saga.retry,
                    completion_event=call.completion_event,
                    description=step.description or f"{call.command} on {call.actor.name}",
                    lock=locks.get(index),
                    payload=step_payload(call.actor, call.command, step.with_),
                    for_each=entry_from("items", step.for_each) if step.for_each else None,
                    on_timeout=step.on_timeout,
                )
            )
        return SagaSpec(
            name=name,
            class_name=pascal(name) + "Saga",
            trigger=saga.trigger,
            inputs=inputs.types(),
            steps=steps,
            pivot_index=pivot_index,
            deadline_s=saga.deadline_s,
            compensation_retry=saga.compensation_retry,
            flowchart=build_flowchart(
                name,
                steps,
                deadline_s=saga.deadline_s,
                title=saga.description,
                compensation_retry=saga.compensation_retry,
            ),
            description=saga.description,
        )

    def _aggregate_call(
        self, spec: DomainSpec, step: SagaStep, actors: dict[str, ActorSpec], inputs: SagaInputs
    ) -> _Call:
        """A step invoking ``context.aggregate.command``: its compensation by the command's
        kind (or the step's ``compensate_with``); the identity, the command's parameters and
        its ``amount`` join the saga's inputs."""
        context, aggregate_name, command_name = step.invoke.split(".")
        aggregate = spec.contexts[context].aggregates[aggregate_name]
        command = aggregate.commands[command_name]
        target = actor_address(context, aggregate_name)
        compensation = self._aggregate_compensation(target, aggregate, command_name)
        if step.compensate_with:
            custom = step.compensate_with.split(".")[-1]
            compensation = Compensation(
                kind="custom",
                target=target,
                command=custom,
                description=f"{custom} compensates {command_name}, as the spec says",
            )
        identity_type = aggregate.fields.get(aggregate.identity, "str")
        inputs.add(step, aggregate.identity, identity_type)
        params = aggregate.command_params(command)
        for param in params:
            typed = aggregate.param_type(command, param, field_types(spec))
            inputs.add(step, param, typed or "str")
        if command.quantity_field:
            inputs.add(step, "amount", "int")
        return _Call(actors[target], command_name, command.kind, compensation)

    def _aggregate_compensation(
        self, target: str, aggregate: Aggregate, command_name: str
    ) -> Compensation | None:
        command = aggregate.commands[command_name]
        kind = command.kind
        if kind is CommandKind.QUERY:
            return None
        if kind in (CommandKind.RESERVE, CommandKind.RELEASE):
            opposite = CommandKind.RELEASE if kind is CommandKind.RESERVE else CommandKind.RESERVE
            for other_name, other in aggregate.commands.items():
                if other.kind is opposite and other.quantity_field == command.quantity_field:
                    return Compensation(
                        kind="release" if kind is CommandKind.RESERVE else "reserve",
                        target=target,
                        command=other_name,
                        description=f"{other_name} gives back what {command_name} took",
                    )
            return None
        if kind is CommandKind.CREATE:
            for other_name, other in aggregate.commands.items():
                if other.kind is CommandKind.DELETE:
                    return Compensation(
                        kind="delete",
                        target=target,
                        command=other_name,
                        description=f"{other_name} removes what {command_name} created",
                    )
        compensation_kind, builtin, _ = BUILTIN_COMPENSATIONS[kind]
        what = {
            "delete": f"delete what {command_name} created",
            "restore": f"restore the state {command_name} changed from its before-image",
            "recreate": f"re-create what {command_name} deleted from its before-image",
        }[compensation_kind]
        return Compensation(
            kind=compensation_kind,
            target=target,
            command=builtin,
            description=what,
        )


def _external_call(
    spec: DomainSpec, step: SagaStep, actors: dict[str, ActorSpec], inputs: SagaInputs
) -> _Call:
    """A step invoking ``external.operation``: a query, or a command undone by the
    operation's ``undo`` (or the step's ``compensate_with``); its parameters join the saga's
    inputs."""
    system, command_name = step.invoke.split(".")
    operation = spec.externals[system].operations[command_name]
    kind = CommandKind.QUERY if operation.kind == "query" else CommandKind.EXTERNAL
    undo = step.compensate_with.split(".")[-1] if step.compensate_with else None
    undo = undo or operation.undo
    compensation = (
        Compensation(
            kind="undo",
            target=system,
            command=undo,
            description=f"{system}.{undo} undoes {command_name}",
        )
        if undo and kind is CommandKind.EXTERNAL
        else None
    )
    for param in operation.params:
        inputs.add(step, param, operation_param_type(spec, operation, param))
    return _Call(
        actors[system],
        command_name,
        kind,
        compensation,
        operation.completion_event,
        operation.completion_timeout_s,
    )


def semantic_locks(spec: DomainSpec, saga: Saga) -> dict[int, Literal["acquire", "release"]]:
    """Each step's semantic lock: as the spec writes it, else derived. An aggregate that
    the saga writes before its pivot and again after it is held from its first write
    (``acquire``) to its last (``release``): between the two it is in a pending state no
    other saga may change (Richardson's semantic lock; the FTGO order in ``pending``).
    Aggregates the saga only moves commutatively (``reserve``/``release``, ``delta``
    updates) need no lock: concurrent sagas cannot lose those changes."""
    locks: dict[int, Literal["acquire", "release"]] = {}
    writes: dict[str, list[int]] = {}
    overwrites: set[str] = set()
    explicit: set[str] = set()
    for index, step in enumerate(saga.steps):
        parts = step.invoke.split(".")
        if len(parts) != 3:
            continue
        context, aggregate, command_name = parts
        command = spec.contexts[context].aggregates[aggregate].commands[command_name]
        if command.kind is CommandKind.QUERY:
            continue
        address = f"{context}.{aggregate}"
        writes.setdefault(address, []).append(index)
        if not _commutative(command):
            overwrites.add(address)
        if step.lock in ("acquire", "release"):
            locks[index] = step.lock
            explicit.add(address)
    pivot = next((i for i, step in enumerate(saga.steps) if step.pivot), None)
    if pivot is None:
        return locks
    for address, indices in writes.items():
        first, last = indices[0], indices[-1]
        if address in explicit or address not in overwrites or not first < pivot < last:
            continue
        if saga.steps[first].lock != "none":
            locks[first] = "acquire"
        if saga.steps[last].lock != "none" and first in locks:
            locks[last] = "release"
    return locks


def _commutative(command: Command) -> bool:
    """True when the command only moves quantities (no value another saga could lose)."""
    if command.kind in (CommandKind.RESERVE, CommandKind.RELEASE):
        return True
    moved_by = {c.lstrip("+-") for c in command.delta.values() if isinstance(c, str)}
    return (
        command.kind is CommandKind.UPDATE
        and bool(command.delta)
        and not command.sets
        and set(command.params or []) <= moved_by
    )


def field_types(spec: DomainSpec) -> dict[str, str]:
    """Each field name of the spec's aggregates → its type (the first aggregate's, in
    spec order): the type of an untyped parameter of the same name."""
    types: dict[str, str] = {}
    for context in spec.contexts.values():
        for aggregate in context.aggregates.values():
            for name, kind in aggregate.fields.items():
                types.setdefault(name, kind)
    return types


def operation_param_type(spec: DomainSpec, operation: Operation, name: str) -> str:
    """An external operation's parameter type: declared, else an aggregate field's, else
    ``str``."""
    if isinstance(operation.params, dict):
        return operation.params[name]
    return field_types(spec).get(name, "str")
