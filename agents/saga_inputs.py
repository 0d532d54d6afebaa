"""A saga's inputs and their types, from what its steps send (part of the Saga Orchestrator).

Each parameter a step sends comes from the saga input of the same name, unless the step's
``with`` names another input (``quantity: rooms`` → input ``rooms``), an earlier step's
result (no input) or, in a ``for_each`` step, the item. A list a step fans out over is an
input of type ``list[<item>]``: ``list[str]`` for plain items, ``list[{sku: str,
quantity: int}]`` for records whose fields the steps read (``item.sku``); the runtime's
``sample_inputs`` and the status API read that notation.
"""

from __future__ import annotations

from sagacrew.agents.spec.model import SagaStep

__all__ = ["SagaInputs"]


class SagaInputs:
    """Collects the inputs of one saga, in the order the steps first need them."""

    def __init__(self) -> None:
        self._types: dict[str, str] = {}
        self._items: dict[str, dict[str, str]] = {}
        self._scalar_items: dict[str, str] = {}
        self._lists: set[str] = set()

    def add(self, step: SagaStep, param: str, kind: str) -> None:
        """``step`` sends ``param`` of type ``kind``: note the input it comes from."""
        source = step.with_.get(param, param)
        if source.startswith("steps."):
            return
        fans = step.for_each is not None and not step.for_each.startswith("steps.")
        if source == "item":
            if fans and step.for_each is not None:
                self._scalar_items.setdefault(step.for_each, kind)
            return
        if source.startswith("item."):
            if fans and step.for_each is not None:
                fields = self._items.setdefault(step.for_each, {})
                fields.setdefault(source.removeprefix("item."), kind)
            return
        self._types.setdefault(source, kind)

    def fan_out(self, step: SagaStep) -> None:
        """``step`` fans out over its ``for_each``: a list input, unless it is a step's."""
        if step.for_each is not None and not step.for_each.startswith("steps."):
            self._types.setdefault(step.for_each, "list")
            self._lists.add(step.for_each)

    def types(self) -> dict[str, str]:
        """Each input → its type (lists as ``list[...]``)."""
        return {name: self._list_type(name, kind) for name, kind in self._types.items()}

    def _list_type(self, name: str, kind: str) -> str:
        if name in self._items:
            fields = ", ".join(f"{field}: {of}" for field, of in self._items[name].items())
            return f"list[{{{fields}}}]"
        if name in self._scalar_items:
            return f"list[{self._scalar_items[name]}]"
        return "list[str]" if name in self._lists else kind
