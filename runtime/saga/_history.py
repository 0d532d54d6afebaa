"""What a saga has done so far, rebuilt from its step log (after a restart, or on redrive).

A failed forward row records how much is known about the attempt in ``result``:
``{"outcome": "refused"}`` (a business refusal: the step did not act), ``"failed"`` (the
step reported a transient failure) or ``"unknown"`` (it timed out, or its completion
event was not delivered in time: it may well have acted).
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sagacrew.runtime.store import StepLogEntry

FORWARD = "forward"
COMPENSATION = "compensation"
LATE_COMPENSATION = "late_compensation"
"""Key phase of a compensation run again because the step's completion event came after
the saga had given the step up (``f"{saga_id}:{index}:late_compensation"``); its
step-log rows have phase ``compensation`` and keys ``...:late_compensation:<attempt>``."""

REFUSED = "refused"
FAILED = "failed"
UNKNOWN = "unknown"

_NAMESPACE = uuid.UUID("5a6ac5e0-0000-4000-8000-000000000001")
_NAMESPACE_BYTES = _NAMESPACE.bytes


def idempotency_key(saga_id: str, step_index: int, phase: str, attempt: int) -> str:
    """``f"{saga_id}:{step_index}:{phase}:{attempt}"``: one key per step attempt."""
    return f"{saga_id}:{step_index}:{phase}:{attempt}"


@functools.lru_cache(maxsize=8192)
def transition_id(key: str) -> str:
    """The message id of a step attempt's transition: a UUID5 of its idempotency key, so a
    re-executed attempt carries the same causation id (``uuid5(...).hex``, computed
    without building a UUID object: it is made several times per step). The SHA-1's hex
    digits with the version digit set to 5 and the variant digit's top bits to ``10``."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + key.encode()).hexdigest()
    return f"{digest[:12]}5{digest[13:16]}{_VARIANT[int(digest[16], 16) & 3]}{digest[17:32]}"


_VARIANT = "89ab"
"""The UUID's 17th hex digit by its two low bits (its two high bits are the variant)."""


def is_late(row: StepLogEntry) -> bool:
    """True for a row of a late compensation (see :data:`LATE_COMPENSATION`)."""
    return f":{LATE_COMPENSATION}:" in row.idempotency_key


def outcome_of(row: StepLogEntry) -> str:
    """What a failed forward row knows of its attempt: refused, failed or unknown. Rows
    written before outcomes were recorded count as ``failed``."""
    return str((row.result or {}).get("outcome", FAILED))


@dataclass
class History:
    """Per step: the forward result (when it succeeded), the last forward and compensation
    rows, the outcomes of its failed forward attempts, which compensations (and late
    compensations) succeeded, and how many attempts its first (not late) compensation
    made."""

    forward_results: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_forward: dict[int, StepLogEntry] = field(default_factory=dict)
    compensated: set[int] = field(default_factory=set)
    last_compensation: dict[int, StepLogEntry] = field(default_factory=dict)
    failed_outcomes: dict[int, set[str]] = field(default_factory=dict)
    late_compensated: set[int] = field(default_factory=set)
    first_compensation_attempts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_log(cls, rows: Iterable[StepLogEntry]) -> History:
        history = cls()
        for row in rows:
            history.note(row)
        return history

    def note(self, row: StepLogEntry) -> None:
        """Take in one more row of the step log (in ``seq`` order)."""
        index = row.step_index
        if row.phase == FORWARD:
            self.last_forward[index] = row
            if row.status == "succeeded":
                self.forward_results[index] = dict(row.result or {})
            elif row.status == "failed":
                self.failed_outcomes.setdefault(index, set()).add(outcome_of(row))
            return
        self.last_compensation[index] = row
        if not is_late(row):
            self.first_compensation_attempts[index] = row.attempt
        if row.status == "succeeded":
            self.compensated.add(index)
            if is_late(row):
                self.late_compensated.add(index)

    def failing_index(self) -> int | None:
        """The step the forward path stopped at: the latest step with forward rows whose
        last forward row is not ``succeeded`` (``None`` when there is none)."""
        failing = [i for i, row in self.last_forward.items() if row.status != "succeeded"]
        return max(failing, default=None)

    def maybe_acted(self, index: int) -> bool:
        """True when a failed attempt of the step may have acted: any failure but a
        business refusal (the step did not act) leaves its effect unknown."""
        return bool(self.failed_outcomes.get(index, set()) - {REFUSED})

    def outcome_unknown(self, index: int) -> bool:
        """True when an attempt of the step timed out or never saw its completion event."""
        return UNKNOWN in self.failed_outcomes.get(index, set())


class ResultsBefore(Mapping[str, Mapping[str, Any]]):
    """``{step name: result}`` of the steps before ``index`` that succeeded, in step
    order (``StepContext.step_results``), worked out when first read."""

    __slots__ = ("_built", "_index", "_results", "_steps")

    def __init__(
        self, results: Mapping[int, dict[str, Any]], steps: Sequence[Any], index: int
    ) -> None:
        self._results, self._steps, self._index = results, steps, index
        self._built: dict[str, Mapping[str, Any]] | None = None

    def _all(self) -> dict[str, Mapping[str, Any]]:
        if self._built is None:
            self._built = {
                self._steps[i].name: result
                for i, result in sorted(self._results.items())
                if i < self._index
            }
        return self._built

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())
