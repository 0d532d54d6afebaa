"""The spec's cross-reference rules, checked after (and besides) pydantic validation.

``check_data`` runs on raw data as loaded from YAML and tolerates invalid parts (see
``catalog``), so every problem of a file is found at once; ``check_rules`` runs on a
validated :class:`DomainSpec`. Both return :class:`Violation` lists located by path.

Besides the aggregate rules (``aggregate_rules``) and saga rules (``saga_rules``):
contexts' ``depends_on`` name known contexts without a cycle; an operation's ``undo``
names another operation of its system; a ``completion_event`` reads
``context.aggregate.past_tense_verb`` on a known aggregate and comes with a
``completion_timeout_s``; every derived event name is emitted by one command only; a
spec holds at most 500 aggregates and 500 sagas.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sagacrew.agents.spec.aggregate_rules import check_aggregates
from sagacrew.agents.spec.catalog import Catalog, build_catalog
from sagacrew.agents.spec.event_names import event_name_problems
from sagacrew.agents.spec.model import DomainSpec
from sagacrew.agents.spec.naming import past_tense_of, suggestion
from sagacrew.agents.spec.saga_rules import check_sagas
from sagacrew.agents.spec.system_rules import check_system_invariants
from sagacrew.agents.spec.violation import Path, Violation

__all__ = ["MAX_AGGREGATES", "MAX_SAGAS", "check_data", "check_rules"]

MAX_AGGREGATES = 500
"""More aggregates than this in one spec is refused: split the spec."""
MAX_SAGAS = 500
"""More sagas than this in one spec is refused: split the spec."""


def check_rules(spec: DomainSpec) -> list[Violation]:
    """Every rule violation of a validated spec, located by path."""
    return check_data(spec.model_dump(mode="json", by_alias=True))


def check_data(data: Any) -> list[Violation]:
    """Every rule violation of raw spec data, skipping the parts that fail validation."""
    catalog = build_catalog(data)
    violations: list[Violation] = []
    violations.extend(_size(catalog))
    violations.extend(_dependencies(catalog))
    violations.extend(check_aggregates(catalog))
    violations.extend(_operations(catalog))
    violations.extend(_events(catalog))
    violations.extend(check_sagas(catalog))
    violations.extend(check_system_invariants(data, catalog))
    return violations


def _size(catalog: Catalog) -> Iterator[Violation]:
    for key, what, count, most in (
        ("contexts", "aggregates", len(catalog.aggregates), MAX_AGGREGATES),
        ("sagas", "sagas", len(catalog.sagas), MAX_SAGAS),
    ):
        if count > most:
            yield Violation(
                (key,),
                f"the spec declares {count} {what}, more than {most}",
                "split it into several specs, e.g. one per group of bounded contexts",
                at_key=True,
            )


def _dependencies(catalog: Catalog) -> Iterator[Violation]:
    graph: dict[str, list[tuple[str, int]]] = {}
    for context, depends in catalog.contexts.items():
        edges: list[tuple[str, int]] = []
        for index, target in enumerate(depends or []):
            if not isinstance(target, str):
                continue
            target = target.strip()
            if target in catalog.contexts:
                edges.append((target, index))
            else:
                yield Violation(
                    ("contexts", context, "depends_on", index),
                    f"context '{context}' depends on unknown context '{target}'",
                    suggestion(target, catalog.contexts),
                )
        graph[context] = edges
    yield from _cycles(graph)


def _cycles(graph: dict[str, list[tuple[str, int]]]) -> Iterator[Violation]:
    """One violation per back edge of a depth-first search in declaration order."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[Violation]:
        stack.append(node)
        on_stack.add(node)
        for target, index in graph[node]:
            if target in on_stack:
                cycle = [*stack[stack.index(target) :], target]
                path: Path = ("contexts", node, "depends_on", index)
                if target == node:
                    message = f"context '{node}' depends on itself"
                else:
                    message = "contexts depend on each other in a cycle: " + " -> ".join(cycle)
                yield Violation(path, message, f"remove '{target}' from `depends_on` of '{node}'")
            elif target not in done:
                yield from visit(target)
        stack.pop()
        on_stack.discard(node)
        done.add(node)

    for node in graph:
        if node not in done:
            yield from visit(node)


def _operations(catalog: Catalog) -> Iterator[Violation]:
    for system, operations in catalog.externals.items():
        for entry in operations.values():
            operation = entry.model
            if operation is None:
                continue
            if operation.undo is not None:
                others = [name for name in operations if name != entry.name]
                if operation.undo == entry.name:
                    yield Violation(
                        (*entry.path, "undo"),
                        f"operation '{entry.name}' cannot be its own undo",
                        f"name the operation of '{system}' that reverses it, "
                        f"e.g. `undo: cancel_{entry.name}`",
                    )
                elif operation.undo not in operations:
                    hint = suggestion(operation.undo, others)
                    if not hint.startswith("did you mean"):
                        hint = f"declare operation '{operation.undo}' under '{system}', or {hint}"
                    yield Violation(
                        (*entry.path, "undo"),
                        f"undo '{operation.undo}' is not an operation of '{system}'",
                        hint,
                    )
            if operation.kind == "query" and (operation.undo or operation.completion_event):
                extra = "undo" if operation.undo else "completion_event"
                yield Violation(
                    (*entry.path, extra),
                    f"operation '{entry.name}' is a query, which changes nothing to undo or "
                    "wait for",
                    f"remove `{extra}:`, or make it `kind: command`",
                )
            yield from _completion(entry.path, operation.completion_event, catalog)
            if operation.completion_event and operation.completion_timeout_s is None:
                yield Violation(
                    (*entry.path, "completion_event"),
                    f"operation '{entry.name}' waits for a completion event but sets no "
                    "completion_timeout_s",
                    "add `completion_timeout_s: 600` (how long to wait before giving up)",
                )
            if operation.completion_timeout_s is not None and not operation.completion_event:
                yield Violation(
                    (*entry.path, "completion_timeout_s"),
                    "completion_timeout_s has no effect without completion_event",
                    "add `completion_event: context.aggregate.completed` or remove it",
                )


def _completion(path: Path, event: str | None, catalog: Catalog) -> Iterator[Violation]:
    """A completion event is a dotted name ending in a past-tense verb; it need not name
    an aggregate (``ml.run.completed`` is the external system's own event)."""
    if not event:
        return
    yield from event_name_problems((*path, "completion_event"), "completion_event", event)


def _events(catalog: Catalog) -> Iterator[Violation]:
    emitted: dict[str, str] = {}
    for entry in catalog.commands().values():
        command = entry.model
        event = entry.event_name
        if command is None or event is None:
            continue
        if event not in emitted:
            emitted[event] = entry.name
            continue
        key = "event" if command.event is not None else "kind"
        first_word = entry.name.split("_")[0]
        yield Violation(
            (*entry.path, key),
            f"command '{entry.name}' emits event '{event}', already emitted by command "
            f"'{emitted[event]}'",
            f"give it its own event, e.g. `event: {past_tense_of(first_word)}`",
        )
