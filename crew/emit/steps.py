"""A saga step's action and compensation as Python: ``Send``/``Undo`` (and ``ForEach``).

Each payload entry of the blueprint becomes an argument: a field of the saga's data by
name (``"order_id"``), a renamed one (``quantity="rooms"``), an earlier step's result
(``flight_id=FromStep("reserve_seat", "resource_id")``), a fan-out's item
(``sku=Item("sku")``), or the forward step's result in a compensation
(``from_result=("resource_id",)``); the forward key is implied by ``Undo``. A fan-out step
wraps both in ``ForEach(<list>, ...)``. The blueprint decides; this only renders.
"""

from __future__ import annotations

from sagacrew.agents.blueprint import PayloadEntry, StepSpec
from sagacrew.crew.emit.render import EmitError

__all__ = ["OLD_BLUEPRINT", "step_action", "step_compensation"]

OLD_BLUEPRINT = (
    "the blueprint does not record this (it predates sagacrew recording every decision); "
    "regenerate from the spec with `sagacrew generate SPEC`"
)


def _value(entry: PayloadEntry) -> str:
    """The keyword value of a renamed entry."""
    if entry.source == "step_field":
        return f"FromStep({entry.step!r}, {entry.field!r})"
    if entry.source == "item":
        return f"Item({entry.field!r})" if entry.field else "Item()"
    return repr(entry.field)


def _arguments(entries: list[PayloadEntry] | None, what: str) -> list[str]:
    if entries is None:
        raise EmitError(f"{what}: {OLD_BLUEPRINT}")
    same = [e for e in entries if e.source == "input" and (e.field or e.key) == e.key]
    keyword = [
        f"{e.key}={_value(e)}"
        for e in entries
        if e.source in ("step_field", "item") or (e.source == "input" and e not in same)
    ]
    results = [e.field or e.key for e in entries if e.source == "step_result"]
    arguments = [repr(e.key) for e in same] + keyword
    if results:
        arguments.append(f"from_result={tuple(results)!r}")
    return arguments


def _call(
    kind: str, target: str, command: str, entries: list[PayloadEntry] | None, what: str
) -> str:
    allowed = {"input", "step_field", "item"}
    if kind == "Undo":
        allowed |= {"step_result", "forward_key"}
    for entry in entries or []:
        if entry.source not in allowed or (entry.source == "forward_key" and entry.key != "undoes"):
            raise EmitError(
                f"{what}: payload entry {entry.key!r} from {entry.source} cannot be sent"
            )
    return f"{kind}({', '.join([repr(target), repr(command), *_arguments(entries, what)])})"


def _fan_out(step: StepSpec, call: str) -> str:
    items = step.for_each
    if items is None:
        return call
    source = _value(items) if items.source == "step_field" else repr(items.field or items.key)
    return f"ForEach({source}, {call})"


def step_action(saga: str, step: StepSpec) -> str:
    """The step's action: ``Send(...)``, or ``ForEach(list, Send(...))``."""
    what = f"saga {saga}, step {step.name}"
    return _fan_out(step, _call("Send", step.target, step.command, step.payload, what))


def step_compensation(saga: str, step: StepSpec) -> str:
    """The step's compensation: ``Undo(...)``, or ``ForEach(list, Undo(...))``."""
    assert step.compensation is not None
    compensation = step.compensation
    what = f"saga {saga}, compensation of {step.name}"
    call = _call("Undo", compensation.target, compensation.command, compensation.payload, what)
    return _fan_out(step, call)
