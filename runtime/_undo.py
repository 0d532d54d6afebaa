"""Undo by key: a compensation that names the forward command it undoes.

A saga's compensation of an aggregate step carries ``undoes``, the idempotency key its
forward command carried (``StepContext.forward_key``). The aggregate looks up what that
command did (its stored result names the event's version) and reverses exactly that:

- nothing recorded under the key: the command has not acted (a refusal, or a timeout
  before it arrived), so there is nothing to undo and the answer says so. The key is then
  recorded as cancelled (a :class:`Tombstone`, in the same transaction-ordered log as the
  command's own record): the command arriving late (a frozen worker's, a send that waited
  on a lock) finds its key processed and does not act, so no effect outlives its undo;
- a ``create`` is undone by deleting the instance (if it still exists);
- an ``update`` by the inverse of its ``delta`` (commutative: it never overwrites what
  others did since) and by restoring its before-image of the fields it *set*, but only
  when those fields still hold the values the step set. When another writer changed them
  since, restoring would lose that writer's update: the undo is refused as a
  **conflict** and nothing is written (the saga parks it in the dead-letter queue);
- a ``delete`` by re-creating the instance from its before-image, unless someone
  re-created it since (a conflict);
- a ``reserve``/``release`` by the opposite command, by the amount the event recorded.

An undo whose result would break an invariant is a conflict too. Each forward command is
undone at most once, whichever compensation message asks (see :func:`undo_key`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sagacrew.runtime._locks import LOCK, LOCK_DIRECTIVE

if TYPE_CHECKING:
    from sagacrew.runtime.aggregate import AggregateActor, Rejection, _Instance

Decision = tuple[str | None, dict[str, Any], dict[str, Any]]
"""``(event type or None, event payload, reply)``."""

UNDOES = "undoes"
"""The payload key naming the forward command's idempotency key."""


def undo_key(undoes: str) -> str:
    """The idempotency key an undo of ``undoes`` is recorded under: one undo per command."""
    return f"{undoes}:undo"


@dataclass(frozen=True)
class Tombstone:
    """The undo of a command that has not acted: ``forward_key`` is to be recorded as
    cancelled (no event), so the command never acts after its undo; ``reply`` answers the
    undo."""

    forward_key: str
    reply: dict[str, Any]

    @property
    def record(self) -> dict[str, Any]:
        """What the late command finds under its key (and answers with)."""
        return {"cancelled": True, "reason": "undone before it acted"}


@dataclass(frozen=True)
class Proceed:
    """The undo continues as the named command with these parameters (e.g. ``amount``)."""

    payload: dict[str, Any]


def decide_undo(
    actor: AggregateActor, name: str, payload: Mapping[str, Any], aggregate_id: str,
    instance: _Instance,
) -> Rejection | Decision | Proceed | Tombstone:  # fmt: skip
    """What undoing ``payload[UNDOES]`` with compensation ``name`` does."""
    from sagacrew.runtime.aggregate import Rejection

    reply: dict[str, Any] = {actor.identity: aggregate_id}
    key = str(payload[UNDOES])
    done = actor.store.processed_result(key)
    never = {**reply, "undone": False, "reason": "the command never acted"}
    if done is None:
        return Tombstone(key, never)
    if "version" not in done:  # cancelled already, or a command that appended nothing
        return None, {}, never
    stream = actor.stream_id(aggregate_id)
    version = int(done["version"])
    events = actor.store.read_stream(stream, from_version=version, to_version=version)
    if not events or events[0].version != version:
        return Rejection(
            name,
            f"{stream} has no event at version {version}, which command {key!r} recorded; "
            "the undo names another instance than the command it undoes",
        )
    original = events[0]
    acted = actor.upcast(original.event_type, original.event_version, original.payload, stream)
    now = instance.version
    verb = actor.address + "."
    # The undo of the step that acquired a semantic lock releases it.
    unlock: dict[str, Any] = {LOCK: ""} if acted.get(LOCK) else {}
    if name == "_restore":
        decision = _restore(actor, name, aggregate_id, instance, acted, version, reply)
        if not isinstance(decision, tuple):
            return decision
        event, body, answer = decision
        return event, {**body, **unlock}, answer
    if name == "_recreate":
        if instance.exists:
            return Rejection(
                name,
                f"conflict: {stream} was re-created by another writer after this step deleted "
                f"it at version {version} (now version {now}); not re-creating it over theirs. "
                "Hold the aggregate with a semantic lock while the saga runs",
                conflict=True,
            )
        before = dict(acted.get("before", {}))
        body = {actor.identity: aggregate_id, "before": before, **unlock}
        return verb + "recreated", body, reply
    if name == "_delete":
        if not instance.exists:
            return None, {}, {**reply, "undone": False, "reason": "already gone"}
        return verb + "deleted", {actor.identity: aggregate_id, **unlock}, reply
    release = {LOCK_DIRECTIVE: "release"} if unlock else {}
    handler = actor.commands.get(name)
    if handler is not None and handler.kind in ("reserve", "release"):
        amount = acted.get("amount", payload.get("amount", 1))
        return Proceed({**payload, "amount": amount, **release})
    if handler is not None and handler.kind == "delete" and not instance.exists:
        return None, {}, {**reply, "undone": False, "reason": "already gone"}
    return Proceed({**payload, **release})


def _restore(
    actor: AggregateActor,
    name: str,
    aggregate_id: str,
    instance: _Instance,
    acted: Mapping[str, Any],
    version: int,
    reply: dict[str, Any],
) -> Rejection | Decision:
    from sagacrew.runtime.aggregate import Rejection

    stream = actor.stream_id(aggregate_id)
    before = dict(acted.get("before", {}))
    moved = [
        f"{field!r} is {instance.state.get(field)!r}, not {acted[field]!r}"
        for field in before
        if field in acted and instance.state.get(field) != acted[field]
    ]
    if moved:
        return Rejection(
            name,
            f"conflict: lost update prevented on {stream}: {'; '.join(moved)} as this step "
            f"set it at version {version}; another writer changed it since (now version "
            f"{instance.version}), so its before-image is not restored. Make the command a "
            "commutative update (`delta:`) or hold the aggregate with a semantic lock",
            conflict=True,
        )
    inverse = {field: -change for field, change in dict(acted.get("delta") or {}).items()}
    payload: dict[str, Any] = {actor.identity: aggregate_id, "before": before}
    if inverse:
        payload["delta"] = inverse
    event = actor.address + ".restored"
    state, _ = actor.evolve(dict(instance.state), instance.exists, event, payload)
    broken = actor.broken_invariants(state)
    if broken:
        return Rejection(
            name,
            f"conflict: undoing the step's change on {stream} would break "
            f"{', '.join(broken)} (the state moved on since version {version}, now version "
            f"{instance.version}); resolve by hand, or refuse the later change while the "
            "saga runs (a semantic lock)",
            conflict=True,
        )
    return event, payload, reply
