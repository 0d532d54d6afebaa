"""What a spec change means for a system that is running: each change, classified.

``classify_changes(old, new)`` compares the blueprint an earlier ``generate`` wrote with
the new one (which already carries the earlier versions it keeps, see
:func:`~sagacrew.agents.versions.keep_earlier`) and returns one :class:`Change` per
difference that matters to sagas in flight or to stored events:

- ``compatible``: a saga, aggregate field, command or operation added; a saga's
  retry/timeout tuning (its version is unchanged: the tuning applies to the sagas in
  flight too); an event moved to a new version with its upcasters.
- ``new_version``: a saga's plan changed (a step added, removed, renamed or moved, a
  compensation changed, the pivot moved, a step sends something else) or a saga left the
  spec: new sagas run the new version, and the earlier one is kept for those in flight.
- ``unsafe``: stored events carry an aggregate field the new spec removed (or retyped)
  and no upcaster of the spec's ``event_history`` drops or renames it; or a saga version
  still kept for sagas in flight sends a command or operation the new spec removed.
  ``generate`` refuses these, naming the place (``path``, in the new spec) and the fix.

A pure function of the two blueprints: no spec, no files, no store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from sagacrew.agents.blueprint import ActorSpec, Blueprint, SagaSpec, StepSpec
from sagacrew.agents.naming import BUILTIN_COMPENSATION_VERB
from sagacrew.agents.versions import saga_version, step_plan

__all__ = ["Change", "ChangeKind", "classify_changes"]

ChangeKind = Literal["compatible", "new_version", "unsafe"]

_LABEL: dict[ChangeKind, str] = {
    "compatible": "compatible",
    "new_version": "new version",
    "unsafe": "unsafe",
}


@dataclass(frozen=True)
class Change:
    """One change between two generations of a system.

    ``path``: where it is in the new spec (mapping keys, as in a spec ``Violation``);
    ``fix``: for an unsafe change, what to write instead.
    """

    kind: ChangeKind
    message: str
    path: tuple[str | int, ...] = ()
    fix: str = ""

    def __str__(self) -> str:
        fix = f"; {self.fix}" if self.fix else ""
        return f"{_LABEL[self.kind]}: {self.message}{fix}"


def classify_changes(old: Blueprint, new: Blueprint) -> list[Change]:
    """Every change from ``old`` to ``new`` that matters to a running system, in order:
    sagas (in ``new``'s order, then those removed), aggregates, events, and what the sagas
    still kept send."""
    assert old.sagas and new.sagas and old.actors and new.actors and old.events and new.events
    changes = list(_saga_changes(old.sagas.sagas, new.sagas.sagas))
    changes += _actor_changes(old, new)
    changes += _event_changes(old, new)
    changes += _sends_to_removed(new)
    return changes


# --- sagas ---------------------------------------------------------------------------


def _saga_changes(old: list[SagaSpec], new: list[SagaSpec]) -> Iterator[Change]:
    before = {saga.name: saga for saga in old}
    for saga in new:
        path = ("sagas", saga.name)
        was = before.get(saga.name)
        if was is None:
            yield Change("compatible", f"saga {saga.name} added", path)
            continue
        old_version, new_version = saga_version(was), saga_version(saga)
        if old_version != new_version:
            what = "; ".join(_plan_differences(was, saga)) or "its plan changed"
            yield Change(
                "new_version",
                f"saga {saga.name} {old_version} → {new_version}: {what} (sagas in flight "
                f"end on {old_version}, kept in earlier_sagas.py)",
                (*path, "steps"),
            )
        tuned = _tuning_differences(was, saga)
        if tuned:
            how = (
                f"tuning: same version {new_version}, applies to sagas in flight too"
                if old_version == new_version
                else f"tuning, of {new_version} only"
            )
            yield Change("compatible", f"saga {saga.name}: {', '.join(tuned)} ({how})", path)
    names = {saga.name for saga in new}
    for saga in old:
        if saga.name not in names:
            yield Change(
                "new_version",
                f"saga {saga.name} removed (its version {saga_version(saga)} is kept in "
                "earlier_sagas.py for the sagas in flight)",
                ("sagas",),
            )


def _plan_differences(old: SagaSpec, new: SagaSpec) -> list[str]:
    """What changed in the plan: steps added, removed, renamed, moved; the pivot;
    compensations; what a step sends."""
    was = {step.name: step for step in old.steps}
    now = {step.name: step for step in new.steps}
    added = [name for name in now if name not in was]
    removed = [name for name in was if name not in now]
    found: list[str] = []
    renamed: dict[str, str] = {}
    for name in list(removed):
        same = next((a for a in added if _same_action(was[name], now[a])), None)
        if same is not None:
            found.append(f"step {name} renamed to {same}")
            renamed[name] = same
            removed.remove(name)
            added.remove(same)
    found += [f"step {name} added{_where(new, name)}" for name in added]
    found += [f"step {name} removed" for name in removed]
    kept_old = [name for name in was if name in now]
    kept_new = [name for name in now if name in was]
    found += [
        f"step {name} moved{_where(new, name)}"
        for name in kept_new
        if _neighbours(kept_old, name) != _neighbours(kept_new, name)
        and kept_old.index(name) != kept_new.index(name)
    ]
    old_pivot, new_pivot = _pivot(old), _pivot(new)
    if renamed.get(old_pivot or "", old_pivot) != new_pivot:
        found.append(f"pivot moved from {old_pivot or 'none'} to {new_pivot or 'none'}")
    for name in kept_new:
        before, after = step_plan(was[name]), step_plan(now[name])
        if before.get("compensation") != after.get("compensation"):
            target = now[name].compensation
            to = f" (now {target.target}.{target.command})" if target else " (now none)"
            found.append(f"compensation of step {name} changed{to}")
        other = sorted(
            key
            for key in before.keys() | after.keys()
            if key not in ("compensation", "index", "pivot", "compensatable")
            and before.get(key) != after.get(key)
        )
        if other:
            found.append(f"step {name} changed ({', '.join(other)})")
    return found


def _same_action(a: StepSpec, b: StepSpec) -> bool:
    return (a.target, a.command) == (b.target, b.command)


def _pivot(saga: SagaSpec) -> str | None:
    return None if saga.pivot_index is None else saga.steps[saga.pivot_index].name


def _neighbours(names: list[str], name: str) -> tuple[str | None, str | None]:
    index = names.index(name)
    return (
        names[index - 1] if index else None,
        names[index + 1] if index + 1 < len(names) else None,
    )


def _where(saga: SagaSpec, name: str) -> str:
    names = [step.name for step in saga.steps]
    index = names.index(name)
    pivot = saga.pivot_index
    side = (
        ""
        if pivot is None or index == pivot
        else (" (before the pivot)" if index < pivot else " (after the pivot)")
    )
    return f" after {names[index - 1]}{side}" if index else f" first{side}"


def _tuning_differences(old: SagaSpec, new: SagaSpec) -> list[str]:
    found: list[str] = []
    if old.deadline_s != new.deadline_s:
        found.append(f"deadline_s {old.deadline_s:g} → {new.deadline_s:g}")
    if old.compensation_retry != new.compensation_retry:
        found.append("compensation_retry changed")
    was = {step.name: step for step in old.steps}
    for step in new.steps:
        before = was.get(step.name)
        if before is None:
            continue
        if before.timeout_s != step.timeout_s:
            found.append(f"timeout of step {step.name} {before.timeout_s:g}s → {step.timeout_s:g}s")
        if before.retry != step.retry:
            found.append(f"retry of step {step.name} changed")
    return found


# --- aggregates, events --------------------------------------------------------------


def _actor_path(actor: ActorSpec, *rest: str) -> tuple[str, ...]:
    if actor.kind == "gateway":
        return ("externals", actor.name, *rest)
    assert actor.context and actor.aggregate
    return ("contexts", actor.context, "aggregates", actor.aggregate, *rest)


def _target_path(target: str, actor: ActorSpec | None) -> tuple[str, ...]:
    """Where ``target``'s commands are (or were) in the spec."""
    if actor is not None:
        return _actor_path(actor, "operations" if actor.kind == "gateway" else "commands")
    if "." in target:
        context, aggregate = target.split(".", 1)
        return ("contexts", context, "aggregates", aggregate)
    return ("externals", target)


def _actor_changes(old: Blueprint, new: Blueprint) -> Iterator[Change]:
    assert old.actors and new.actors
    now = {actor.name: actor for actor in new.actors.actors}
    for was in old.actors.actors:
        actor = now.get(was.name)
        if actor is None:
            continue
        for field in actor.fields:
            if field not in was.fields:
                yield Change(
                    "compatible",
                    f"field {actor.name}.{field} added (events stored before lack it; the "
                    "aggregate reads it as unset)",
                    _actor_path(actor, "fields", field),
                )
        gone = [f for f in was.fields if f not in actor.fields]
        retyped = [f for f in was.fields if f in actor.fields and actor.fields[f] != was.fields[f]]
        for field in [*gone, *retyped]:
            yield from _field_change(old, new, was, actor, field, field in gone)
        handled = {h.command for h in was.handlers}
        for handler in actor.handlers:
            if handler.command not in handled:
                what = "operation" if actor.kind == "gateway" else "command"
                path = "operations" if actor.kind == "gateway" else "commands"
                yield Change(
                    "compatible",
                    f"{what} {actor.name}.{handler.command} added",
                    _actor_path(actor, path, handler.command),
                )


def _field_change(
    old: Blueprint, new: Blueprint, was: ActorSpec, actor: ActorSpec, field: str, removed: bool
) -> Iterator[Change]:
    """Unsafe when a stored event of ``was`` carries ``field`` and no upcaster from its
    stored version on drops or renames it; compatible otherwise."""
    assert old.events and new.events
    upcasters = new.events.upcasters
    what = "removed" if removed else f"retyped {was.fields[field]} → {actor.fields[field]}"
    commands = {h.event: h.command for h in was.handlers if h.event}
    carriers = {
        e.name: e.version for e in new.events.events if field in e.payload_schema["properties"]
    }
    current = {e.name: e.version for e in new.events.events}
    carried = False
    for event in old.events.events:
        if event.source != was.name or field not in event.payload_schema["properties"]:
            continue
        command = commands.get(event.name, "")
        if not command and event.name.rsplit(".", 1)[-1] in BUILTIN_COMPENSATION_VERB.values():
            continue  # the runtime's own compensation events carry the identity only
        carried = True
        if removed and event.name in carriers:
            continue  # the command still sends it as a parameter: nothing to drop
        if any(
            u.event == event.name
            and u.from_version >= event.version
            and (field in u.removed or field in u.renamed)
            for u in upcasters
        ):
            continue
        v = event.version
        version = max(v + 1, current.get(event.name, v))
        yield Change(
            "unsafe",
            f"field {actor.name}.{field} {what}, but stored events {event.name} v{v} carry "
            "it and no upcaster drops it",
            _actor_path(actor, "commands", command) if command else _actor_path(actor, "fields"),
            f"give command {command or '(the one emitting it)'} `event_version: {version}` "
            f"and an `event_history` entry `{{from_version: {v}, removed: [{field}]}}`"
            + ("" if removed else ", and give the new type a field of another name"),
        )
        return
    reason = "the upcasters drop it from stored events" if carried else "no stored event carries it"
    yield Change(
        "compatible", f"field {actor.name}.{field} {what} ({reason})", _actor_path(actor, "fields")
    )


def _event_changes(old: Blueprint, new: Blueprint) -> Iterator[Change]:
    assert old.events and new.events
    before = {event.name: event.version for event in old.events.events}
    for event in new.events.events:
        was = before.get(event.name)
        if was is not None and was < event.version:
            ups = [u for u in new.events.upcasters if u.event == event.name]
            yield Change(
                "compatible",
                f"event {event.name} v{was} → v{event.version} ({len(ups)} upcaster(s) "
                "read the stored ones)",
            )


# --- what the kept sagas send --------------------------------------------------------


def _sends_to_removed(new: Blueprint) -> Iterator[Change]:
    """A kept earlier version (or, defensively, a current one) that sends a command the new
    actors do not handle: its sagas in flight would be refused mid-way."""
    assert new.sagas and new.actors
    actors = {actor.name: actor for actor in new.actors.actors}
    reported: set[tuple[str, str]] = set()
    for entry in new.sagas.earlier:
        saga = entry.saga
        for step in saga.steps:
            sends = [(step.target, step.command)]
            if step.compensation:
                sends.append((step.compensation.target, step.compensation.command))
            for target, command in sends:
                if command in BUILTIN_COMPENSATION_VERB or (target, command) in reported:
                    continue
                actor = actors.get(target)
                if actor is not None and any(h.command == command for h in actor.handlers):
                    continue
                reported.add((target, command))
                yield Change(
                    "unsafe",
                    f"{target}.{command} is gone, but saga {saga.name} version {saga.version} "
                    f"(kept for the sagas in flight) sends it in step {step.name}",
                    _target_path(target, actor),
                    f"remove the step now and {command} later: keep {command} until no saga "
                    f"of {saga.version} is in flight, drop that version (`sagacrew versions "
                    f"DIR --drop {saga.version}`), then remove {command}",
                )
