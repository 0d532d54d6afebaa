"""Workloads: many sagas of every type at once, with generated sample input.

:func:`sample_inputs` makes a saga's input from its field types (unique ids, small
numbers, the same for the same arguments); :func:`run_workload` runs a number of sagas
of every type with bounded concurrency; :class:`WorkloadReport` says how they ended.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Required, TypedDict

from sagacrew.runtime.messages import new_id
from sagacrew.runtime.saga import SagaResult

RunSaga = Callable[..., Awaitable[SagaResult]]
"""``run_saga(saga_name, data, *, saga_id=...)``, as :meth:`SagaSystem.run_saga`."""


@dataclass(frozen=True)
class WorkloadReport:
    """What a workload run did: sagas by final state."""

    results: tuple[SagaResult, ...]
    by_state: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """How many sagas ran."""
        return len(self.results)


SAMPLE_ITEMS = 2
"""How many items :func:`sample_inputs` puts in a list input (``list[...]``)."""


def item_schema(kind: str) -> str | dict[str, str] | None:
    """The items of a list type: ``list[int]`` → ``"int"``, ``list[{sku: str, quantity:
    int}]`` → ``{"sku": "str", "quantity": "int"}``; ``None`` when ``kind`` is no
    ``list[...]``."""
    if not (kind.startswith("list[") and kind.endswith("]")):
        return None
    inner = kind[5:-1].strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        return inner
    fields = (part.split(":", 1) for part in inner[1:-1].split(",") if ":" in part)
    return {name.strip(): field.strip() for name, field in fields}


def sample_inputs(
    types: Mapping[str, str], saga_name: str, index: int, run: str = ""
) -> dict[str, Any]:
    """Saga input for saga ``index`` of workload ``run``: unique ids, small numbers.

    Strings are unique per saga and run (``<field>-<run>-<saga>-<index>``), so every saga
    works on its own aggregates, also when several workloads share a store; integers are
    1-8 (``amount`` 1-4), small enough to pass the usual limits of a spec's
    ``rejects_when`` rules. A ``list[...]`` input gets :data:`SAMPLE_ITEMS` items of its
    item type (records field by field), each unique. The same arguments always give the
    same input.
    """
    data: dict[str, Any] = {}
    for name, kind in types.items():
        items = item_schema(kind)
        if items is None:
            data[name] = _sample(name, kind, saga_name, index, run)
        elif isinstance(items, str):
            data[name] = [
                _sample(f"{name}.{i}", items, saga_name, index, run) for i in range(SAMPLE_ITEMS)
            ]
        else:
            data[name] = [
                {
                    field: _sample(f"{name}.{i}.{field}", kind_of, saga_name, index, run)
                    for field, kind_of in items.items()
                }
                for i in range(SAMPLE_ITEMS)
            ]
    return data


def _sample(name: str, kind: str, saga_name: str, index: int, run: str) -> Any:
    digest = int(hashlib.sha256(f"{saga_name}:{name}:{index}".encode()).hexdigest()[:8], 16)
    if kind == "int":
        return 1 + digest % (4 if name.split(".")[-1] == "amount" else 8)
    if kind == "float":
        return round(1 + (digest % 10_000) / 100, 2)
    if kind == "bool":
        return True
    if kind == "list":
        return []
    if kind == "dict":
        return {}
    return f"{name}-{run}-{saga_name}-{index}" if run else f"{name}-{saga_name}-{index}"


class WorkloadOptions(TypedDict, total=False):
    """How many sagas a workload runs and how: ``sagas_per_type`` sagas of each type (the
    one required option), at most ``concurrency`` at once (default 20); ``on_done`` (if
    given) is called with each result. With ``id_prefix``, saga ids are
    ``<prefix>-<saga>-<n>``, so the same workload on a fresh store meets the same
    (hash-seeded) faults; without (the default), ids are random."""

    sagas_per_type: Required[int]
    concurrency: int
    id_prefix: str | None
    on_done: Callable[[SagaResult], None] | None


async def run_workload(
    run_saga: RunSaga,
    saga_names: Sequence[str],
    inputs: Mapping[str, Mapping[str, str]],
    *,
    sagas_per_type: int,
    concurrency: int = 20,
    id_prefix: str | None = None,
    on_done: Callable[[SagaResult], None] | None = None,
) -> WorkloadReport:
    """Run ``sagas_per_type`` sagas of each of ``saga_names`` with ``run_saga``, at most
    ``concurrency`` at once (input from ``inputs[<saga>]``, field name → type); the
    options as :class:`WorkloadOptions` says.
    """
    limit = asyncio.Semaphore(concurrency)
    run = id_prefix or new_id()[:8]

    async def one(saga_name: str, index: int) -> SagaResult:
        saga_id = None if id_prefix is None else f"{id_prefix}-{saga_name}-{index:05d}"
        data = sample_inputs(inputs[saga_name], saga_name, index, run)
        async with limit:
            result = await run_saga(saga_name, data, saga_id=saga_id)
        if on_done is not None:
            on_done(result)
        return result

    results = await asyncio.gather(
        *(one(name, i) for name in saga_names for i in range(sagas_per_type))
    )
    by_state: dict[str, int] = {}
    for result in results:
        by_state[str(result.state)] = by_state.get(str(result.state), 0) + 1
    return WorkloadReport(tuple(results), dict(sorted(by_state.items())))
