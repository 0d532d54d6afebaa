"""Saga versions: a digest of each saga's plan, and the earlier versions a system keeps.

A saga that started on one plan must end on it, even after the spec changed and the system
was regenerated and redeployed. So each saga definition carries a **version**, 12 hex
digits of SHA-256 over a canonical JSON of what its running executions follow: the steps in
order, what each sends where (payloads, fan-out), its compensation and what that sends, the
pivot, locks, completion events, ``on_timeout``. Not in it: prose (descriptions, the
flowchart, the trigger's wording), the saga's inputs (checked when a saga starts, not while
it runs) and the **tuning** (``deadline_s``, step timeouts, retry policies). Tuning is a
compatible change, applied to sagas in flight as well: a retry policy or a timeout says how
hard to try a step, not which step comes next, so an execution recovered with new tuning
still follows its plan (and an operator who raises a timeout wants it raised for the sagas
stuck on it, too).

When ``generate`` finds the blueprint of an earlier generation in its output folder, the
versions that left the spec are kept in the new blueprint (``sagas.earlier``) with the
fingerprint of the blueprint they came from and of the one that replaced them (no
timestamp: the same inputs give the same bytes); the package gets them in
``earlier_sagas.py``. :func:`drop_version` removes one once nothing uses it; the live
counts that decide it come from the store (:func:`droppable`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagacrew.agents.blueprint import Blueprint, EarlierSaga, SagaSpec, StepSpec

__all__ = [
    "LiveCounts",
    "SagaVersion",
    "VersionError",
    "drop_version",
    "droppable",
    "earlier_name",
    "keep_earlier",
    "list_versions",
    "plan_of",
    "saga_version",
    "spec_fingerprint",
    "step_plan",
    "with_versions",
]

DIGITS = 12
"""Hex digits of a version or a fingerprint."""

_PROSE = frozenset({"description", "flowchart", "class_name", "trigger", "version", "inputs"})
_TUNING_SAGA = frozenset({"deadline_s", "compensation_retry"})
_TUNING_STEP = frozenset({"timeout_s", "retry", "retriable"})
"""``retriable`` says whether a step is retried after the pivot: it follows from the pivot,
which is in the plan already."""

LiveCounts = Mapping[tuple[str, str], int]
"""``{(saga name, version): sagas in flight or parked in the dead-letter queue}``."""


class VersionError(Exception):
    """A version that cannot be dropped (or found); the message says why and what to do."""


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:DIGITS]


def _without_prose(data: Any) -> Any:
    """``data`` with every ``description`` left out, at any depth."""
    if isinstance(data, dict):
        return {k: _without_prose(v) for k, v in data.items() if k != "description"}
    if isinstance(data, list):
        return [_without_prose(item) for item in data]
    return data


def step_plan(step: StepSpec) -> dict[str, Any]:
    """What a running execution follows of ``step``: its part of the saga's version."""
    data = step.model_dump(mode="json", exclude=set(_TUNING_STEP))
    return dict(_without_prose(data))


def plan_of(saga: SagaSpec) -> dict[str, Any]:
    """What a running execution of ``saga`` follows: the data its version digests."""
    data = saga.model_dump(mode="json", exclude=set(_PROSE | _TUNING_SAGA | {"steps"}))
    data["steps"] = [step_plan(step) for step in saga.steps]
    return dict(_without_prose(data))


def saga_version(saga: SagaSpec) -> str:
    """The version of ``saga``: 12 hex digits of SHA-256 over its plan (see the module)."""
    return _digest(plan_of(saga))


def with_versions(blueprint: Blueprint) -> Blueprint:
    """``blueprint`` with each current saga's ``version`` set from its plan."""
    if blueprint.sagas is None:
        return blueprint
    sagas = [s.model_copy(update={"version": saga_version(s)}) for s in blueprint.sagas.sagas]
    if sagas == blueprint.sagas.sagas:
        return blueprint
    return blueprint.model_copy(
        update={"sagas": blueprint.sagas.model_copy(update={"sagas": sagas})}
    )


def _without_earlier(blueprint: Blueprint) -> Blueprint:
    if blueprint.sagas is None or not blueprint.sagas.earlier:
        return blueprint
    part = blueprint.sagas.model_copy(update={"earlier": []})
    return blueprint.model_copy(update={"sagas": part})


def spec_fingerprint(blueprint: Blueprint) -> str:
    """12 hex digits of SHA-256 over ``blueprint.json`` without the earlier versions: which
    spec (as the crew read it) a saga version came from."""
    return hashlib.sha256(_without_earlier(blueprint).to_json().encode("utf-8")).hexdigest()[
        :DIGITS
    ]


def earlier_name(saga: SagaSpec) -> str:
    """The constant an earlier version is named by: ``CREATE_ORDER_V1A2B3C4D5E6F``."""
    return f"{saga.name.upper()}_V{(saga.version or saga_version(saga)).upper()}"


def keep_earlier(previous: Blueprint | None, new: Blueprint) -> Blueprint:
    """``new`` carrying the versions of ``previous`` (the blueprint an earlier ``generate``
    wrote in the same folder) that are no longer current: its earlier ones, then its
    current ones that the new spec changed or removed. A version that is current again
    leaves the earlier ones. ``previous`` of another system (or none): ``new`` as it is."""
    if previous is None or previous.sagas is None or new.sagas is None:
        return new
    if previous.system != new.system:
        return new
    previous = with_versions(previous)
    assert previous.sagas is not None
    before = previous.sagas
    current = {(s.name, s.version) for s in new.sagas.sagas}
    kept: list[EarlierSaga] = []
    seen = set(current)
    for entry in before.earlier:
        key = (entry.saga.name, entry.saga.version)
        if key not in seen:
            kept.append(entry)
            seen.add(key)
    came_from, replaced_by = spec_fingerprint(previous), spec_fingerprint(new)
    for saga in before.sagas:
        key = (saga.name, saga.version)
        if key not in seen:
            kept.append(
                EarlierSaga(
                    saga=saga,
                    spec_file=previous.spec_file,
                    spec_fingerprint=came_from,
                    superseded_by=replaced_by,
                )
            )
            seen.add(key)
    part = new.sagas.model_copy(update={"earlier": kept})
    return new.model_copy(update={"sagas": part})


@dataclass(frozen=True)
class SagaVersion:
    """One version of a saga as ``sagacrew versions`` lists it."""

    saga: str
    version: str
    current: bool
    spec_file: str
    spec_fingerprint: str
    superseded_by: str = ""

    def describe(self, live: int | None = None) -> str:
        """One line: saga, version, current or earlier, where it came from (and live count)."""
        state = "current" if self.current else f"earlier (superseded by spec {self.superseded_by})"
        counted = "" if live is None else f", {live} in flight or dead-lettered"
        origin = f"{self.spec_file}, spec {self.spec_fingerprint}"
        return f"{self.saga} {self.version}: {state}; from {origin}{counted}"


def list_versions(blueprint: Blueprint) -> list[SagaVersion]:
    """Every version of every saga in ``blueprint``: per saga (in the blueprint's order,
    then sagas that left the spec), the current version first, then the earlier ones."""
    if blueprint.sagas is None:
        return []
    stamped = with_versions(blueprint)
    assert stamped.sagas is not None
    fingerprint = spec_fingerprint(stamped)
    found = [
        SagaVersion(s.name, s.version, True, stamped.spec_file, fingerprint)
        for s in stamped.sagas.sagas
    ]
    found += [
        SagaVersion(
            e.saga.name,
            e.saga.version,
            False,
            e.spec_file,
            e.spec_fingerprint,
            e.superseded_by,
        )
        for e in stamped.sagas.earlier
    ]
    order = list(dict.fromkeys(v.saga for v in found))
    return sorted(found, key=lambda v: (order.index(v.saga), not v.current))


def droppable(blueprint: Blueprint, live: LiveCounts) -> list[SagaVersion]:
    """The earlier versions no saga uses any more: none of ``live`` (sagas in flight or in
    the dead-letter queue, per saga and version, as the store counts them) is on them. A
    version absent from ``live`` has no live saga."""
    return [
        v
        for v in list_versions(blueprint)
        if not v.current and live.get((v.saga, v.version), 0) == 0
    ]


def drop_version(blueprint: Blueprint, version: str, live: LiveCounts | None = None) -> Blueprint:
    """``blueprint`` without the earlier version ``version`` (of whichever saga has it).

    Refused (:class:`VersionError`) for an unknown version, the current version of a saga,
    and, when ``live`` is given, a version some saga in flight or in the dead-letter
    queue still uses. Without ``live`` nothing is counted: the caller vouches for it.
    """
    versions = list_versions(blueprint)
    matches = [v for v in versions if v.version == version]
    if not matches:
        known = ", ".join(f"{v.saga} {v.version}" for v in versions) or "none"
        raise VersionError(f"no saga has version {version!r}; known versions: {known}")
    if any(v.current for v in matches):
        saga = next(v.saga for v in matches if v.current)
        raise VersionError(
            f"{version} is the current version of saga {saga}; only earlier versions can be "
            "dropped (change the saga in the spec and generate again to supersede it)"
        )
    for match in matches:
        count = (live or {}).get((match.saga, version), 0)
        if count:
            raise VersionError(
                f"saga {match.saga} version {version} is still used by {count} saga(s) in "
                "flight or in the dead-letter queue; let them end (or resolve the dead "
                "letters), then drop it"
            )
    assert blueprint.sagas is not None
    kept = [e for e in blueprint.sagas.earlier if e.saga.version != version]
    part = blueprint.sagas.model_copy(update={"earlier": kept})
    return blueprint.model_copy(update={"sagas": part})
