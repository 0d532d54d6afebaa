"""Generic isolation checks over a store: lost updates and orphaned external work.

They need nothing from the spec beyond the generated system's blueprint, so they hold any
system to the same rules (see :mod:`sagacrew.agents.validator.verification.contention`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator import CheckResult
from sagacrew.runtime.store import RecordedEvent, Store

__all__ = ["lost_updates", "orphaned_external_work"]

_LISTED = 20
_NOT_SET = frozenset({"before", "delta", "amount"})


def lost_updates(system: GeneratedSystem, store: Store) -> CheckResult:
    """No compensation restored a before-image over another saga's later change, and none
    was refused as a conflict (a lost update the runtime prevented)."""
    saga_of = store.saga_ids_by_correlation()
    violations: list[str] = []
    subjects = 0
    for cls in system.definition.aggregates:
        restored = f"{cls.address}.restored"
        for stream_id in store.streams_with_event(restored):
            events = store.read_stream(stream_id)
            for index, event in enumerate(events):
                if event.event_type == restored:
                    subjects += 1
                    violations += _stale(events, index, saga_of)
    conflicts = [
        (letter.saga_id, letter.step_name, letter.error)
        for letter in store.list_dead_letters()
        if letter.kind == "compensation" and "conflict:" in letter.error
    ]
    subjects += len(conflicts)
    violations += [
        f"saga {saga}: compensation of {step} refused: {error}" for saga, step, error in conflicts
    ]
    description = (
        "No compensation restored a before-image over a concurrent saga's change, and "
        "none had to be refused for it (use a delta or a semantic lock)."
    )
    return _result("no_lost_update", description, subjects, violations)


def _stale(events: Sequence[RecordedEvent], index: int, saga_of: dict[str, str]) -> list[str]:
    """Why the restore at ``events[index]`` overwrote a concurrent change, if it did."""
    restore = events[index]
    fields = set(dict(restore.payload.get("before") or {}))
    undoes = restore.metadata.get("undoes")
    start = None
    for earlier in range(index - 1, -1, -1):
        event = events[earlier]
        if undoes is not None and event.metadata.get("idempotency_key") == undoes:
            start = earlier
            break
        if undoes is None and event.correlation_id == restore.correlation_id:
            start = earlier
            break
    if start is None:
        return []
    found = []
    for event in events[start + 1 : index]:
        if event.correlation_id == restore.correlation_id:
            continue
        overwritten = fields & (set(event.payload) - _NOT_SET)
        if overwritten:
            who = saga_of.get(restore.correlation_id, restore.correlation_id)
            other = saga_of.get(event.correlation_id, event.correlation_id)
            found.append(
                f"saga {who}: restored {', '.join(sorted(overwritten))} of "
                f"{restore.stream_id} at version {restore.version} over saga {other}'s "
                f"change at version {event.version} (lost update)"
            )
    return found


def orphaned_external_work(system: GeneratedSystem, store: Store) -> CheckResult:
    """No external call with an undo, made by a compensated saga, still stands."""
    blueprint = system.blueprint
    assert blueprint.sagas is not None
    undoable = sorted(
        {
            (step.target, step.command)
            for saga in blueprint.sagas.sagas
            for step in saga.steps
            if step.kind.value == "external" and step.compensation is not None
        }
    )
    violations: list[str] = []
    subjects = 0
    for target, operation in undoable:
        rows = store.compensated_external_calls(target, operation)
        subjects += len(rows)
        violations += [
            f"saga {saga}: {target}.{operation} ({key}) is {status} after compensation "
            "(orphaned external work)"
            for saga, key, status in rows
            if status in ("running", "done", "completed", "unknown")
        ]
    description = (
        "Every external call with an undo made by a compensated saga was undone or "
        "cancelled, also when its step timed out or its completion arrived late."
    )
    return _result("no_orphaned_external_work", description, subjects, violations)


def _result(name: str, description: str, subjects: int, violations: list[str]) -> CheckResult:
    """The check's result, listing its first ``_LISTED`` violations (the count covers all)."""
    return CheckResult(
        name=name,
        description=description,
        subjects=subjects,
        violations=violations[:_LISTED],
        violation_count=len(violations),
    )
