"""Fan-out: a step that sends one command per item of a list known only at run time.

``ForEach("seats", Send("air.seat", "reserve", "booking_id", seat_no=Item("seat_no")))``
reserves every seat of the saga's ``seats`` list, and its compensation
``ForEach("seats", Undo("air.seat", "release", "booking_id", seat_no=Item("seat_no")))``
releases them. The rules:

- **The list**: ``ctx.data[items]`` (a field of the saga's data) or, with
  ``items=FromStep(step, field)``, a field of an earlier step's result (which no later
  step can overwrite). It must be a list (``[]`` sends nothing and succeeds); it is
  part of the persisted saga, so every attempt, the compensation and a recovered run
  see the same items. A missing or non-list value fails the step without retrying.
- **The item**: ``Item()`` in the payload is the item itself, ``Item(field)`` a field of
  it when it is a dict; other fields come from the saga's data or ``FromStep`` as in
  ``Send``. Every item's payload is built before the first command is sent, so a
  missing field fails the step before anything acted.
- **Keys**: item ``i``'s command carries ``item_key(ctx.command_key, i)``, i.e.
  ``f"{saga_id}:{step_index}:forward[{i}]"`` forward and
  ``f"{saga_id}:{step_index}:compensation[{i}]"`` for its undo: stable across attempts
  and crash recovery, so a retried step resends the items already done under their old
  keys and the target answers them from its deduplication record without acting again.
- **Order**: forward, items in list order, one at a time (the step's ``timeout_s``
  bounds the whole list); the compensation undoes every item in reverse order, each
  naming its own item's forward key in ``undoes``: an item that never acted (the step
  failed before reaching it) is a no-op at the target. ``Undo(from_result=...)`` reads
  the item's own forward reply (``""`` when the step's outcome is unknown).
- **Result**: ``{"replies": [reply of item 0, reply of item 1, ...]}`` (index order, in
  forward and compensation alike); read it with ``FromStep(step, "replies")``.
- **Failure part-way**: a transient failure of item ``k`` fails the attempt (retried:
  items before ``k`` are deduplicated); a refusal of item ``k`` after earlier items acted
  raises :class:`PartialFailure`: not retried, yet the step counts as having acted, so
  the saga compensates it (every item, latest first). A refusal of the first item sent
  is a plain refusal (nothing acted).
- **Semantic lock**: with ``SagaStep(lock=...)``, every item's command carries it, so
  each instance the fan-out writes is locked (or freed) for the saga; the undo of an
  item that acquired frees its instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sagacrew.runtime.saga._definition import StepContext
from sagacrew.runtime.saga._errors import SagaDefinitionError, StepFailed
from sagacrew.runtime.saga._send import FromStep, ItemScope, Send, Undo

REPLIES = "replies"
"""The key of a ``ForEach`` step's result: the per-item replies, in item order."""


class PartialFailure(StepFailed):
    """A step that sends several commands failed for good after some of them acted (an
    item of a ``ForEach`` was refused after earlier items were done): not retried, but
    unlike a refusal the step may have acted, so the saga compensates it. A hand-written
    action sending several commands may raise it too."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retriable=False)


@dataclass(frozen=True)
class ForEach:
    """Send ``action`` once per item of the list ``items`` (see the module docstring);
    ``action`` is a ``Send`` for a forward step, an ``Undo`` for its compensation."""

    items: str | FromStep
    action: Send

    def __post_init__(self) -> None:
        if not isinstance(self.items, str | FromStep):
            raise SagaDefinitionError(
                f"ForEach items={self.items!r}: give a field name of the saga's data (str) "
                "or FromStep(step, field)"
            )
        if not isinstance(self.action, Send):
            raise SagaDefinitionError(
                f"ForEach action={self.action!r}: give a Send (forward) or an Undo (compensation)"
            )

    @property
    def step_references(self) -> tuple[str, ...]:
        """The steps whose results the list or the payload reads (``FromStep``)."""
        own = (self.items.step,) if isinstance(self.items, FromStep) else ()
        return tuple(dict.fromkeys(own + self.action.step_references))

    @property
    def reads_item(self) -> bool:
        """False: ``Item`` is defined inside a ``ForEach``."""
        return False

    def list_of(self, ctx: StepContext) -> Sequence[Any]:
        """The items for ``ctx``, or ``StepFailed(retriable=False)`` saying what is wrong."""
        if isinstance(self.items, FromStep):
            value = self.items.resolve(ctx)
            what = f"FromStep({self.items.step!r}, {self.items.field!r})"
        elif self.items in ctx.data:
            value, what = ctx.data[self.items], f"field {self.items!r} of the saga's data"
        else:
            raise StepFailed(
                f"saga {ctx.saga_id!r} ({ctx.saga_name}), {ctx.phase} of step "
                f"{ctx.step_name!r}: ForEach over {self.items!r}, but the saga's data has "
                f"no such field (it has {sorted(ctx.data)})",
                retriable=False,
            )
        if not isinstance(value, list | tuple):
            raise StepFailed(
                f"saga {ctx.saga_id!r} ({ctx.saga_name}), {ctx.phase} of step "
                f"{ctx.step_name!r}: ForEach over {what}, which is a "
                f"{type(value).__name__}, not a list",
                retriable=False,
            )
        return value

    async def __call__(self, ctx: StepContext) -> Mapping[str, Any]:
        items = self.list_of(ctx)
        undoing = isinstance(self.action, Undo)
        forward = ctx.step_result.get(REPLIES) if undoing else None
        order = range(len(items) - 1, -1, -1) if undoing else range(len(items))
        bodies = [
            (index, self.action.body(ctx, ItemScope(index, items[index], _reply(forward, index))))
            for index in order
        ]
        replies: dict[int, dict[str, Any]] = {}
        for index, body in bodies:
            try:
                reply = await ctx.send(self.action.target, self.action.command, body, item=index)
            except StepFailed as exc:
                if exc.retriable or undoing or not replies:
                    raise
                raise PartialFailure(
                    f"item {index} of {len(items)} failed after items {sorted(replies)} "
                    f"acted: {exc.reason}"
                ) from exc
            replies[index] = dict(reply)
        return {REPLIES: [replies[index] for index in range(len(items))]}


def _reply(replies: Any, index: int) -> Mapping[str, Any]:
    """Item ``index``'s forward reply from a forward result's ``replies`` (``{}`` if none)."""
    if isinstance(replies, list) and index < len(replies) and isinstance(replies[index], dict):
        return dict(replies[index])
    return {}
