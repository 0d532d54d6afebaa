"""Declarative steps: a step or compensation that sends one command, as data.

A generated saga states what each step sends, not how: ``Send`` for a forward step,
``Undo`` for a compensation, ``ForEach`` (in ``_for_each``) to send one per item of a
list. They are step actions (``await action(ctx)``), so a hand-written async function
can stand wherever a business rule needs more than that.

Where a payload field comes from (a keyword argument's value):

- a ``str``: that field of the saga's data (the input merged with every earlier step's
  result; a missing field raises ``KeyError``, a defect: the step fails, not retried);
- ``FromStep(step, field)``: that field of the named earlier step's own result, which
  a later step returning a field of the same name does not overwrite;
- ``Item()`` / ``Item(field)``: inside ``ForEach``, the current item, or that field of
  it when the item is a dict.

Positional fields are names of the saga's data, sent under their own name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagacrew.runtime.saga._definition import StepContext, item_key
from sagacrew.runtime.saga._errors import SagaDefinitionError, StepFailed

UNDOES = "undoes"
"""The payload key of the forward step's command key, in every compensation."""


def _where(ctx: StepContext) -> str:
    return f"saga {ctx.saga_id!r} ({ctx.saga_name}), {ctx.phase} of step {ctx.step_name!r}"


@dataclass(frozen=True)
class FromStep:
    """A field of an earlier step's result: ``FromStep("reserve_seat", "resource_id")``.

    Read from ``ctx.step_results`` (kept per step, durably). Naming a step that is not
    before the reading one is refused when the ``SagaDefinition`` is built; at run time
    a step that has not succeeded, or a field its result lacks, fails the step without
    retrying (``StepFailed(retriable=False)``, naming saga, step and field) before it
    sends anything.
    """

    step: str
    field: str

    def resolve(self, ctx: StepContext) -> Any:
        """The value for ``ctx``, or ``StepFailed(retriable=False)`` saying what is missing."""
        result = ctx.step_results.get(self.step)
        if result is None:
            raise StepFailed(
                f"{_where(ctx)}: FromStep({self.step!r}, {self.field!r}) names step "
                f"{self.step!r}, which has not succeeded (succeeded: "
                f"{list(ctx.step_results)}); read only steps that run before this one",
                retriable=False,
            )
        if self.field not in result:
            raise StepFailed(
                f"{_where(ctx)}: FromStep({self.step!r}, {self.field!r}): the result of "
                f"step {self.step!r} has no field {self.field!r} (it has {sorted(result)})",
                retriable=False,
            )
        return result[self.field]


@dataclass(frozen=True)
class Item:
    """Inside ``ForEach``: the current item (``Item()``), or its field ``field`` when the
    item is a dict (``Item("seat_no")``). A field the item lacks, or a field of an item
    that is not a dict, fails the step without retrying, naming the item's index."""

    field: str | None = None


@dataclass(frozen=True)
class ItemScope:
    """The item a ``ForEach`` sends for: its index, its value and, in a compensation, the
    reply its forward command got (``{}`` when unknown)."""

    index: int
    value: Any
    reply: Mapping[str, Any]

    def read(self, ref: Item, ctx: StepContext) -> Any:
        if ref.field is None:
            return self.value
        if not isinstance(self.value, Mapping) or ref.field not in self.value:
            raise StepFailed(
                f"{_where(ctx)}: Item({ref.field!r}): item {self.index} "
                f"({self.value!r}) has no field {ref.field!r}",
                retriable=False,
            )
        return self.value[ref.field]


Source = str | FromStep | Item
"""Where a payload field comes from (see the module docstring)."""


@dataclass(frozen=True, init=False)
class Send:
    """Send ``command`` to ``target`` with fields of the saga's data.

    ``Send("ordering.order", "create_order", "order_id", "total_cents")`` sends those
    two fields under their own names; ``Send("hotel.room", "reserve", "booking_id",
    quantity="rooms")`` sends the data's ``rooms`` as ``quantity``; ``flight_id=
    FromStep("reserve_seat", "resource_id")`` sends a field of an earlier step's result.
    The reply is the step's result (merged into the saga's data for the steps after
    it, and kept whole in ``ctx.step_results``).
    """

    target: str
    command: str
    payload: tuple[tuple[str, Source], ...]
    """(payload key, where its value comes from) in the order sent."""

    def __init__(
        self, target: str, command: str, /, *fields: str, **renamed: str | FromStep | Item
    ) -> None:
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "command", command)
        pairs: list[tuple[str, Source]] = [(name, name) for name in fields]
        pairs += list(renamed.items())
        for key, source in pairs:
            if not isinstance(source, str | FromStep | Item):
                raise SagaDefinitionError(
                    f"{type(self).__name__}({target!r}, {command!r}): field {key!r} is "
                    f"{source!r}; give a field name of the saga's data (str), "
                    "FromStep(step, field) or Item(...)"
                )
        object.__setattr__(self, "payload", tuple(pairs))

    @property
    def step_references(self) -> tuple[str, ...]:
        """The steps whose results the payload reads (``FromStep``), in order."""
        return tuple(dict.fromkeys(s.step for _, s in self.payload if isinstance(s, FromStep)))

    @property
    def reads_item(self) -> bool:
        """True when the payload reads ``Item``: only valid inside ``ForEach``."""
        return any(isinstance(source, Item) for _, source in self.payload)

    def body(self, ctx: StepContext, item: ItemScope | None = None) -> dict[str, Any]:
        """The payload for ``ctx`` (and the fan-out's ``item``, if any)."""
        body: dict[str, Any] = {}
        for key, source in self.payload:
            if isinstance(source, str):
                body[key] = ctx.data[source]
            elif isinstance(source, FromStep):
                body[key] = source.resolve(ctx)
            elif item is None:
                raise StepFailed(
                    f"{_where(ctx)}: {source!r} is only defined inside ForEach", retriable=False
                )
            else:
                body[key] = item.read(source, ctx)
        return body

    async def __call__(self, ctx: StepContext) -> Mapping[str, Any]:
        return await ctx.send(self.target, self.command, self.body(ctx))


@dataclass(frozen=True, init=False)
class Undo(Send):
    """A compensation: ``Send`` plus ``undoes`` (the key the forward command carried, so
    the target reverses exactly that command, and nothing when it never acted) and
    ``from_result``: fields of the forward step's result (``""`` when its outcome is
    unknown), e.g. the ``resource_id`` an external system returned. Inside ``ForEach``,
    ``undoes`` names the item's own forward key and ``from_result`` reads the item's own
    forward reply."""

    from_result: tuple[str, ...]

    def __init__(
        self,
        target: str,
        command: str,
        /,
        *fields: str,
        from_result: tuple[str, ...] = (),
        **renamed: str | FromStep | Item,
    ) -> None:
        super().__init__(target, command, *fields, **renamed)
        object.__setattr__(self, "from_result", tuple(from_result))

    def body(self, ctx: StepContext, item: ItemScope | None = None) -> dict[str, Any]:
        body = super().body(ctx, item)
        if item is None:
            body[UNDOES], forward = ctx.forward_key, ctx.step_result
        else:
            body[UNDOES], forward = item_key(ctx.forward_key, item.index), item.reply
        for name in self.from_result:
            body[name] = forward.get(name, "")
        return body
