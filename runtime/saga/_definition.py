"""Saga definitions: ordered steps, their compensations, the pivot, timeouts and retries."""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sagacrew.runtime._locks import LOCK_DIRECTIVE
from sagacrew.runtime.messages import Envelope, new_id
from sagacrew.runtime.saga._errors import SagaDefinitionError
from sagacrew.runtime.saga._policy import RetryPolicy

DEFAULT_STEP_TIMEOUT_S = 5.0
"""A step attempt's timeout when neither the step nor its saga sets one."""

Dispatch = Callable[[str, Envelope], Awaitable[Mapping[str, Any]]]
"""Sends a command envelope to a target (actor address or gateway) and returns its reply."""


def item_key(key: str, index: int) -> str:
    """``f"{key}[{index}]"``: the key of item ``index`` of a fan-out (``ForEach``) whose
    step carries ``key``; the same on every attempt and after a crash."""
    return f"{key}[{index}]"


class StepContext:
    """What a step action or compensation receives.

    - ``idempotency_key``: ``f"{saga_id}:{step_index}:{phase}:{attempt}"``, this attempt's
      key (its step-log row); the same key is used when a started attempt is re-executed
      after a crash.
    - ``command_key``: ``f"{saga_id}:{step_index}:{phase}"``, the key every command of the
      step carries, the same on every attempt: a retry after an ambiguous failure (a
      timeout after the handler already acted) is deduplicated by the handler, so a step
      acts at most once whatever the number of attempts.
    - ``causation_id``: the id of this step attempt's transition (deterministic from the
      key); ``correlation_id`` is the saga's.
    - ``data``: the saga input merged with the results of earlier steps (read-only).
    - ``step_results``: ``{step name: result}`` of the steps before this one that
      succeeded, in step order (read-only). Unlike ``data``, where a later step's field
      overwrites an earlier one's of the same name, each result is kept whole. It is
      rebuilt from the step log (each succeeded row holds its result), so it survives a
      crash and recovery; ``FromStep`` reads it.
    - ``step_result``: in a compensation, the forward step's result; ``{}`` in forward
      and when the forward step's outcome is unknown (it failed or timed out).
    - ``lock``: the step's semantic lock (``acquire``/``release``, forward only); the
      first command the step sends carries it as ``_lock`` in its payload, and the
      aggregate holds or frees the instance for this saga (its correlation id).
    - ``forward_key``: ``f"{saga_id}:{step_index}:forward"``, the key the step's forward
      command carried (on every attempt). A compensation names it (``undoes``) so the
      target undoes exactly what that command did, and nothing when it never acted:
      this is how a step whose outcome is unknown (a timeout) is undone safely.
    - item sends (``send(..., item=i)``, used by ``ForEach``): item ``i``'s command
      carries ``item_key(command_key, i)`` (``f"{command_key}[{i}]"``) and is not counted
      among the ``#n`` sends; with a ``lock``, every item's command carries it (each item
      locks, or frees, the instance it writes; its undo frees it).
    """

    __slots__ = (
        "_dispatch",
        "_results",
        "_results_given",
        "_sends",
        "attempt",
        "causation_id",
        "command_key",
        "correlation_id",
        "data",
        "idempotency_key",
        "lock",
        "phase",
        "saga_id",
        "saga_name",
        "step_index",
        "step_name",
        "step_result",
    )

    def __init__(
        self,
        saga_id: str,
        saga_name: str,
        step_name: str,
        step_index: int,
        phase: str,
        attempt: int,
        idempotency_key: str,
        correlation_id: str,
        causation_id: str,
        data: Mapping[str, Any],
        step_result: Mapping[str, Any],
        dispatch: Dispatch,
        command_key: str | None = None,
        lock: str | None = None,
        step_results: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.saga_id = saga_id
        self.saga_name = saga_name
        self.step_name = step_name
        self.step_index = step_index
        self.phase = phase
        self.attempt = attempt
        self.idempotency_key = idempotency_key
        self.command_key = command_key or idempotency_key
        self.lock = lock
        self.correlation_id = correlation_id
        self.causation_id = causation_id
        self.data: Mapping[str, Any] = types.MappingProxyType(dict(data))
        self.step_result: Mapping[str, Any] = types.MappingProxyType(dict(step_result))
        self._results_given = step_results
        self._results: Mapping[str, Mapping[str, Any]] | None = None
        self._dispatch = dispatch
        self._sends = 0

    @property
    def forward_key(self) -> str:
        """``f"{saga_id}:{step_index}:forward"`` (see the class docstring)."""
        return f"{self.saga_id}:{self.step_index}:forward"

    @property
    def step_results(self) -> Mapping[str, Mapping[str, Any]]:
        """The earlier steps' results, read-only (see the class docstring); copied when
        first read, as most actions never read them."""
        if self._results is None:
            self._results = types.MappingProxyType(
                {
                    name: types.MappingProxyType(dict(result))
                    for name, result in (self._results_given or {}).items()
                }
            )
            self._results_given = None
        return self._results

    def envelope(
        self, command: str, payload: Mapping[str, Any], *, item: int | None = None
    ) -> Envelope:
        """The envelope for the next ``send``: this attempt's ids and the step's key.

        The first send carries ``command_key`` itself; the n-th (n >= 2) carries
        ``f"{command_key}#{n}"``, so an action that sends several commands gets one stable
        key per command, the same on every attempt. The command of item ``item`` of a
        fan-out carries ``item_key(command_key, item)`` instead (not counted among the
        sends) and, like the first send, the step's lock.
        """
        key = self.command_key
        body = dict(payload)
        if item is not None:
            key = item_key(key, item)
            if self.lock is not None:
                body[LOCK_DIRECTIVE] = self.lock
        else:
            self._sends += 1
            if self._sends > 1:
                key = f"{key}#{self._sends}"
            elif self.lock is not None:
                body[LOCK_DIRECTIVE] = self.lock
        # by position, the message id made here: keywords take longer to parse (one send per step)
        return Envelope(command, body, self.correlation_id, self.causation_id, new_id(), key)

    def send(
        self, target: str, command: str, payload: Mapping[str, Any], *, item: int | None = None
    ) -> Awaitable[Mapping[str, Any]]:
        """Send ``command`` to ``target`` through the orchestrator's dispatch; await it for
        the reply. ``item``: the index of a fan-out's item (see :meth:`envelope`). (The
        dispatch's own awaitable, not a coroutine around it: one frame less per send.)"""
        return self._dispatch(target, self.envelope(command, payload, item=item))

    def __repr__(self) -> str:
        return f"StepContext({self.idempotency_key!r}, step={self.step_name!r})"


StepAction = Callable[[StepContext], Awaitable[Mapping[str, Any] | None]]
"""A step's action or compensation: returns the step's result (merged into the saga data)."""


@dataclass(frozen=True)
class SagaStep:
    """One step of a saga.

    - ``compensation``: undoes the step; ``None`` means not compensatable, which is only
      allowed at or after the pivot, or for a ``read_only`` step.
    - ``pivot``: the go/no-go step; once it succeeds the saga only moves forward.
    - ``read_only`` (default False): the step has no side effect (a query, e.g. validating
      a consumer), so it needs no compensation anywhere in the saga.
    - ``timeout_s``: per attempt; a timeout counts as a transient failure. For a step
      with ``completion_event`` it also bounds the wait for the event, measured from the
      attempt's start. ``None`` (default): the saga's ``step_timeout_s``.
    - ``retry``: attempts and backoff; ``None`` (default): the saga's ``step_retry``.
    - ``on_timeout`` (default ``retry``): what a timed-out attempt (its outcome unknown)
      means. ``retry``: a transient failure, retried by ``retry`` (the command key makes a
      retry act at most once); when the attempts run out, the saga compensates, this step
      included (undone by key, so nothing if it never acted), or stalls when the step has
      no compensation. ``compensate``: no retry; compensate at once (likewise).
      ``stall``: no retry and no compensation; the saga ends ``stalled`` with an
      ``unknown_outcome`` alert, for steps where neither is safe without a look.
    - ``completion_event``: the step completes only when this event is delivered
      (``SagaOrchestrator.deliver``); its payload is merged into the step's result.
    - ``lock`` (default None): a semantic lock on the aggregate instance the step
      writes: ``acquire`` holds it for this saga, ``release`` frees it (the
      compensation of an acquiring step frees it too); see ``AggregateActor``. A
      ``ForEach`` step's lock goes with every item's command (one instance per item).
    """

    name: str
    action: StepAction
    compensation: StepAction | None = None
    pivot: bool = False
    timeout_s: float | None = None
    retry: RetryPolicy | None = None
    completion_event: str | None = None
    read_only: bool = False
    lock: Literal["acquire", "release"] | None = None
    on_timeout: Literal["retry", "compensate", "stall"] = "retry"

    @property
    def attempt_timeout_s(self) -> float:
        """The timeout of one attempt: ``timeout_s``, as the saga resolved it."""
        return DEFAULT_STEP_TIMEOUT_S if self.timeout_s is None else self.timeout_s

    @property
    def retry_policy(self) -> RetryPolicy:
        """The step's retry policy: ``retry``, as the saga resolved it."""
        return self.retry or RetryPolicy()


@dataclass(frozen=True)
class SagaDefinition:
    """A named, ordered list of steps with a deadline.

    ``deadline_s`` (default 30.0) bounds the whole forward run, retries included;
    compensations are not bounded by it (they run after it, if need be).
    ``compensation_retry`` (default ``RetryPolicy()``: 3 attempts) applies to every
    compensation; ``step_timeout_s`` (default 5.0) and ``step_retry`` (default
    ``RetryPolicy()``) to every step that sets no ``timeout_s`` or ``retry`` of its own.
    Validated at construction: at least one step, unique step names, at most one pivot,
    and every step before the pivot (every step, without a pivot) is compensatable or
    ``read_only``.
    """

    name: str
    steps: Sequence[SagaStep]
    deadline_s: float = 30.0
    compensation_retry: RetryPolicy = field(default_factory=RetryPolicy)
    step_timeout_s: float = DEFAULT_STEP_TIMEOUT_S
    step_retry: RetryPolicy = field(default_factory=RetryPolicy)
    version: str = ""
    """The definition's version, a digest of its plan (generated); ``""``: none given."""

    def __post_init__(self) -> None:
        steps = tuple(
            replace(
                step,
                timeout_s=self.step_timeout_s if step.timeout_s is None else step.timeout_s,
                retry=step.retry or self.step_retry,
            )
            for step in self.steps
        )
        object.__setattr__(self, "steps", steps)
        if not self.steps:
            raise SagaDefinitionError(f"saga {self.name!r} has no steps; give it at least one")
        names = [step.name for step in self.steps]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise SagaDefinitionError(
                f"saga {self.name!r} has duplicate step names {duplicates}; rename them"
            )
        self._check_references()
        pivots = [step.name for step in self.steps if step.pivot]
        if len(pivots) > 1:
            raise SagaDefinitionError(
                f"saga {self.name!r} has {len(pivots)} pivots {pivots}; keep exactly one "
                "(the go/no-go step) and make the others plain steps"
            )
        if self.deadline_s <= 0:
            raise SagaDefinitionError(f"saga {self.name!r} deadline_s must be > 0")
        for step in self.steps:
            if step.attempt_timeout_s <= 0:
                raise SagaDefinitionError(
                    f"step {step.name!r} of saga {self.name!r} has timeout_s={step.timeout_s}; "
                    "use a positive number of seconds"
                )
        limit = self.pivot_index if self.pivot_index is not None else len(self.steps)
        for step in self.steps[:limit]:
            if step.compensation is None and not step.read_only:
                where = "before the pivot" if self.pivot_index is not None else "(no pivot)"
                raise SagaDefinitionError(
                    f"step {step.name!r} of saga {self.name!r} is {where} but has no "
                    "compensation; give it one, mark it read_only=True if it has no side "
                    "effect, or move it after the pivot"
                )

    def _check_references(self) -> None:
        """Declarative actions (``Send``, ``Undo``, ``ForEach``) say which steps' results
        they read (``step_references``) and whether they read a fan-out's item outside
        one (``reads_item``): a step, and its compensation, may only read the results of
        steps before it (those have succeeded whenever it runs; its own forward result
        is its compensation's ``step_result``), and ``Item`` only inside ``ForEach``."""
        order = {step.name: index for index, step in enumerate(self.steps)}
        for index, step in enumerate(self.steps):
            earlier = [s.name for s in self.steps[:index]]
            for role, action in (("action", step.action), ("compensation", step.compensation)):
                where = f"the {role} of step {step.name!r} of saga {self.name!r}"
                for name in _step_references(action):
                    if name not in order:
                        raise SagaDefinitionError(
                            f"{where} reads a result of step {name!r}, but the saga has no "
                            f"such step; name one of the steps before it: {earlier}"
                        )
                    if order[name] >= index:
                        raise SagaDefinitionError(
                            f"{where} reads a result of step {name!r}, which does not run "
                            f"before it; read only earlier steps ({earlier}); a compensation "
                            "reads its own step's result with Undo(from_result=...)"
                        )
                if getattr(action, "reads_item", False) is True:
                    raise SagaDefinitionError(
                        f"{where} reads Item(), which only exists inside ForEach; wrap the "
                        "Send or Undo in ForEach(items_field, ...)"
                    )

    @property
    def pivot_index(self) -> int | None:
        """Index of the pivot step, or ``None``."""
        for index, step in enumerate(self.steps):
            if step.pivot:
                return index
        return None


def _step_references(action: object) -> tuple[str, ...]:
    """The step names a declarative action reads results of (``()`` for a function)."""
    names = getattr(action, "step_references", ())
    return tuple(str(name) for name in names) if isinstance(names, tuple) else ()
