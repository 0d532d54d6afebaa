"""Supervision policies: child specs, supervisor specs, backoff and deciders (frozen, validated).

Names follow Erlang/OTP ``supervisor.erl`` (strategy, intensity, period, restart type, shutdown)
and Akka Typed (directives ``resume``/``restart``/``stop``/``escalate``, restart with backoff).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from ._errors import InvalidSupervisorSpec

if TYPE_CHECKING:
    from ._actor import Actor

Directive = Literal["restart", "resume", "stop", "escalate"]
"""What a supervisor does with a child that raised (Akka's directives).

``restart``: new instance, mailbox kept. ``resume``: keep the instance and its state, drop the
failing message. ``stop``: stop the child for good, whatever its restart type. ``escalate``: the
supervisor stops all its children and fails with the child's exception. A nested supervisor
that failed cannot be resumed (its children are already stopped): ``resume`` restarts it.
"""

RestartType = Literal["permanent", "transient", "temporary"]
"""OTP restart types: ``permanent`` always restarted; ``transient`` only after an abnormal exit
(an exception); ``temporary`` never."""

Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
"""OTP restart strategies: restart the failed child only; all children; or the failed child and
the children started after it. The siblings are stopped in reverse start order, then all are
started in start order. As in OTP, a ``temporary`` sibling is stopped and not restarted, and a
``transient`` sibling that had already exited normally is started again."""

Decider = Callable[[BaseException], Directive]

DIRECTIVES: frozenset[str] = frozenset(get_args(Directive))
_RESTART_TYPES: frozenset[str] = frozenset(get_args(RestartType))
_STRATEGIES: frozenset[str] = frozenset(get_args(Strategy))


@dataclass(frozen=True)
class Backoff:
    """Akka's restart with exponential backoff: how long to wait before restarting a child.

    The n-th consecutive restart (n from 0) waits ``min_s * 2**n`` capped by ``max_s``, then
    moved by up to ``+-random_factor`` of itself (jitter), and never outside ``[0, max_s]``.
    Defaults: ``min_s=0`` (restart immediately, no delay at all), ``max_s=0``,
    ``random_factor=0`` (no jitter). ``reset_after_s``: a child that ran at least this long
    before failing starts the sequence again at ``min_s``; ``None`` (default) means ``min_s``,
    as in Akka.
    """

    min_s: float = 0.0
    max_s: float = 0.0
    random_factor: float = 0.0
    reset_after_s: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.min_s) or self.min_s < 0:
            raise InvalidSupervisorSpec("Backoff", "min_s", self.min_s, "use a finite value >= 0")
        if not math.isfinite(self.max_s) or self.max_s < self.min_s:
            raise InvalidSupervisorSpec(
                "Backoff", "max_s", self.max_s, f"use a finite value >= min_s ({self.min_s})"
            )
        if not math.isfinite(self.random_factor) or not 0 <= self.random_factor <= 1:
            raise InvalidSupervisorSpec(
                "Backoff", "random_factor", self.random_factor, "use a value in [0, 1]"
            )
        if self.reset_after_s is not None and (
            not math.isfinite(self.reset_after_s) or self.reset_after_s < 0
        ):
            raise InvalidSupervisorSpec(
                "Backoff", "reset_after_s", self.reset_after_s, "use None or a value >= 0"
            )

    @property
    def effective_reset_after_s(self) -> float:
        """``reset_after_s``, or ``min_s`` when it is ``None``."""
        return self.min_s if self.reset_after_s is None else self.reset_after_s

    def delay_s(self, restart_count: int, rng: random.Random) -> float:
        """Seconds to wait before restart number ``restart_count`` (from 0); in ``[0, max_s]``."""
        if self.min_s == 0.0:
            return 0.0
        try:
            base = min(self.max_s, math.ldexp(self.min_s, max(restart_count, 0)))
        except OverflowError:
            base = self.max_s
        if self.random_factor:
            base += base * self.random_factor * rng.uniform(-1.0, 1.0)
        return min(max(base, 0.0), self.max_s)


def _check_name(owner: str, name: str) -> None:
    if not name or "/" in name:
        raise InvalidSupervisorSpec(owner, "name", name, "use a non-empty name without '/'")


@dataclass(frozen=True)
class ChildSpec:
    """One child of a supervisor (OTP child spec).

    ``start``: a zero-argument factory returning a fresh ``Actor`` (called on every start and
    restart), or a ``SupervisorSpec`` for a nested supervisor. ``restart`` (default
    ``"permanent"``): see ``RestartType``. ``shutdown_s`` (default 5.0): on stop, how long to wait
    for the child to finish its current message and ``post_stop`` before its task is cancelled
    (measured on the event loop's clock). The child's path is ``<supervisor path>/<name>``.
    """

    name: str
    start: Callable[[], Actor] | SupervisorSpec
    restart: RestartType = "permanent"
    shutdown_s: float = 5.0

    def __post_init__(self) -> None:
        _check_name("ChildSpec", self.name)
        if self.restart not in _RESTART_TYPES:
            raise InvalidSupervisorSpec(
                "ChildSpec", "restart", self.restart, f"use one of {sorted(_RESTART_TYPES)}"
            )
        if not isinstance(self.start, SupervisorSpec) and not callable(self.start):
            raise InvalidSupervisorSpec(
                "ChildSpec", "start", self.start, "use an actor factory or a SupervisorSpec"
            )
        if math.isnan(self.shutdown_s) or self.shutdown_s < 0:
            raise InvalidSupervisorSpec(
                "ChildSpec", "shutdown_s", self.shutdown_s, "use a value >= 0 (math.inf to wait)"
            )

    @property
    def is_supervisor(self) -> bool:
        """True when this child is a nested supervisor."""
        return isinstance(self.start, SupervisorSpec)


@dataclass(frozen=True)
class SupervisorSpec:
    """A supervisor: its children (started in order, stopped in reverse) and how it restarts them.

    ``strategy`` (default ``"one_for_one"``): see ``Strategy``. ``intensity`` (default 3) and
    ``period_s`` (default 5.0): if more than ``intensity`` restarts happen within ``period_s``
    seconds (per the system's clock), the supervisor stops all its children in reverse order and
    fails with ``SupervisionError``, which its parent handles as a failed child. ``backoff``
    (default: immediate): delay before each restart. ``decider`` (default: always
    ``"restart"``): maps a child's exception to a ``Directive``; see ``directives``.
    """

    strategy: Strategy = "one_for_one"
    intensity: int = 3
    period_s: float = 5.0
    children: Sequence[ChildSpec] = ()
    backoff: Backoff = Backoff()
    decider: Decider | None = None

    def __post_init__(self) -> None:
        if self.strategy not in _STRATEGIES:
            raise InvalidSupervisorSpec(
                "SupervisorSpec", "strategy", self.strategy, f"use one of {sorted(_STRATEGIES)}"
            )
        if self.intensity < 0:
            raise InvalidSupervisorSpec("SupervisorSpec", "intensity", self.intensity, "use >= 0")
        if not self.period_s > 0:
            raise InvalidSupervisorSpec("SupervisorSpec", "period_s", self.period_s, "use > 0")
        seen: set[str] = set()
        for child in self.children:
            if child.name in seen:
                raise InvalidSupervisorSpec(
                    "SupervisorSpec", "children", child.name, "child names must be unique"
                )
            seen.add(child.name)

    def decide(self, error: BaseException) -> Directive:
        """The directive for ``error``: the decider's answer, or ``"restart"`` without one."""
        if self.decider is None:
            return "restart"
        return self.decider(error)


def directives(
    mapping: Mapping[type[BaseException], Directive], default: Directive = "restart"
) -> Decider:
    """A decider choosing by exception type; the most specific class in the MRO wins.

    ``directives({ValueError: "resume", KeyError: "stop"}, default="restart")``.
    """
    for exc_type, directive in mapping.items():
        if directive not in DIRECTIVES:
            raise InvalidSupervisorSpec(
                "directives", exc_type.__name__, directive, f"use one of {sorted(DIRECTIVES)}"
            )
    if default not in DIRECTIVES:
        raise InvalidSupervisorSpec(
            "directives", "default", default, f"use one of {sorted(DIRECTIVES)}"
        )
    table = dict(mapping)

    def decide(error: BaseException) -> Directive:
        for klass in type(error).__mro__:
            found = table.get(klass)
            if found is not None:
                return found
        return default

    return decide
