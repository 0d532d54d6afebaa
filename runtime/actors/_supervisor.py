"""The supervisor actor: starts its children in order and restarts them per OTP semantics.

A supervisor is itself an actor (so it can be a child of another supervisor). Child exits arrive
as signals in its mailbox and are handled one at a time, in order; a backoff delay therefore
also holds back the handling of later exits. When more than ``intensity`` restarts happen within
``period_s``, it stops all its children in reverse start order and fails with
``SupervisionError``; its parent sees that as a failed child.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._actor import Actor
from ._cell import Cell, Signal
from ._errors import ActorInitializationError, SupervisionError
from ._policy import DIRECTIVES, ChildSpec, Directive, RestartType, SupervisorSpec

if TYPE_CHECKING:
    from ._ref import ActorRef

logger = logging.getLogger("sagacrew.runtime.actors")


class ChildExited(Signal):
    """Internal: a child's instance ended by itself (failed with ``error``, or stopped)."""

    __slots__ = ("cell", "directive", "error", "incarnation")

    def __init__(
        self, cell: Cell, incarnation: int, error: Exception | None, directive: Directive | None
    ) -> None:
        self.cell = cell
        self.incarnation = incarnation
        self.error = error
        self.directive = directive


@dataclass(frozen=True)
class WhichChildren:
    """Ask a supervisor for its children (OTP ``which_children``); the reply is
    ``list[ChildInfo]`` in start order. Also a way to wait until every exit reported before it
    has been handled."""


@dataclass(frozen=True)
class ChildInfo:
    """One child of a supervisor as reported by ``WhichChildren``."""

    name: str
    ref: ActorRef
    restart: RestartType
    is_supervisor: bool
    alive: bool


class _Child:
    __slots__ = ("backoff_count", "cell", "spec")

    def __init__(self, spec: ChildSpec, cell: Cell) -> None:
        self.spec = spec
        self.cell = cell
        self.backoff_count = 0


def _factory(spec: ChildSpec) -> Callable[[], Actor]:
    start = spec.start
    if isinstance(start, SupervisorSpec):
        nested = start
        return lambda: Supervisor(nested)
    return start


class Supervisor(Actor):
    """An OTP supervisor running ``spec``; created by ``ActorSystem.start`` and for nested specs."""

    def __init__(self, spec: SupervisorSpec) -> None:
        self._spec = spec
        self._children: list[_Child] = []
        self._restarts: list[float] = []

    async def pre_start(self) -> None:
        """Start the children in order; if one fails, stop the started ones and fail."""
        own = self.context._cell
        for spec in self._spec.children:
            cell = own.new_child(
                spec.name,
                _factory(spec),
                self,
                shutdown_s=spec.shutdown_s,
                is_supervisor=spec.is_supervisor,
            )
            self._children.append(_Child(spec, cell))
            try:
                await cell.start()
            except ActorInitializationError:
                raise
            except Exception as error:
                raise ActorInitializationError(cell.path, error) from error

    async def receive(self, message: Any) -> Any:
        """Handle child exits and ``WhichChildren``; anything else goes to dead letters."""
        if isinstance(message, ChildExited):
            await self._on_child_exited(message)
            return None
        if isinstance(message, WhichChildren):
            return [
                ChildInfo(
                    child.spec.name,
                    child.cell.ref,
                    child.spec.restart,
                    child.spec.is_supervisor,
                    not child.cell.dead,
                )
                for child in self._children
            ]
        self.context.system.dead_letters.publish(self.context.path, message, "unhandled")
        return None

    # -- Parent protocol, called from the children's tasks -------------------------------

    def decide(self, error: Exception) -> Directive:
        """The decider's directive; a decider that raises or answers nonsense escalates."""
        try:
            directive = self._spec.decide(error)
        except Exception:
            logger.exception("decider of supervisor %r raised; escalating", self.context.path)
            return "escalate"
        if directive not in DIRECTIVES:
            logger.error(
                "decider of supervisor %r returned %r, not one of %s; escalating",
                self.context.path,
                directive,
                sorted(DIRECTIVES),
            )
            return "escalate"
        return directive

    def child_exited(
        self, cell: Cell, incarnation: int, error: Exception | None, directive: Directive | None
    ) -> None:
        """Queue the exit in this supervisor's mailbox."""
        self.context._cell.enqueue(ChildExited(cell, incarnation, error, directive))

    # -- handling -----------------------------------------------------------------------

    def _find(self, cell: Cell) -> _Child | None:
        for child in self._children:
            if child.cell is cell:
                return child
        return None

    async def _on_child_exited(self, signal: ChildExited) -> None:
        cell = signal.cell
        child = self._find(cell)
        if child is None or cell.dead or cell.incarnation != signal.incarnation:
            return  # stale: that instance was already stopped or replaced
        error = signal.error
        if error is not None:
            logger.warning(
                "actor %r failed with %r; directive %s", cell.path, error, signal.directive
            )
            if signal.directive == "escalate":
                await self.context._cell.stop_children()
                raise error
            if signal.directive == "stop":
                await self._remove(child)
                return
        restart = child.spec.restart
        if restart == "temporary":
            await self._remove(child)
        elif restart == "transient" and error is None:
            await cell.stop(terminate=True, timeout_s=child.spec.shutdown_s)
        else:
            await self._restart(child, error)

    async def _remove(self, child: _Child) -> None:
        """Stop a child for good and forget it (temporary children, ``stop`` directive)."""
        if child in self._children:
            self._children.remove(child)
        own = self.context._cell
        if own.children.get(child.spec.name) is child.cell:
            del own.children[child.spec.name]
        await child.cell.stop(terminate=True, timeout_s=child.spec.shutdown_s)

    def _add_restart(self, now: float) -> int:
        """Record a restart at ``now``; the number of restarts within the period (OTP)."""
        threshold = now - self._spec.period_s
        self._restarts = [at for at in self._restarts if at >= threshold]
        self._restarts.append(now)
        return len(self._restarts)

    def _group(self, failed: _Child) -> list[_Child]:
        """The children the strategy restarts when ``failed`` exits, in start order."""
        strategy = self._spec.strategy
        if strategy == "one_for_one":
            return [failed]
        if strategy == "one_for_all":
            return list(self._children)
        return self._children[self._children.index(failed) :]

    def _next_delay_s(self, child: _Child) -> float:
        system = self.context.system
        backoff = self._spec.backoff
        started_at = child.cell.started_at
        if (
            started_at is not None
            and system.clock() - started_at >= backoff.effective_reset_after_s
        ):
            child.backoff_count = 0
        delay_s = backoff.delay_s(child.backoff_count, system.rng)
        child.backoff_count += 1
        return delay_s

    async def _restart(self, failed: _Child, error: Exception | None) -> None:
        """Restart per the strategy; a child failing to start again counts as another restart."""
        system = self.context.system
        own = self.context._cell
        while True:
            count = self._add_restart(system.clock())
            if count > self._spec.intensity:
                await own.stop_children()
                raise SupervisionError(
                    own.path,
                    count,
                    intensity=self._spec.intensity,
                    period_s=self._spec.period_s,
                    child_path=failed.cell.path,
                    error=error,
                ) from error
            delay_s = self._next_delay_s(failed)
            await failed.cell.finalize_for_restart(error)
            group = self._group(failed)
            for member in reversed(group):
                if member is failed:
                    continue
                if member.spec.restart == "temporary":
                    await self._remove(member)
                else:
                    await member.cell.stop(terminate=False, timeout_s=member.spec.shutdown_s)
            if delay_s > 0:
                await system.sleep(delay_s)
            retry: tuple[_Child, Exception] | None = None
            for member in group:
                if member not in self._children:
                    continue
                try:
                    await member.cell.start()
                except Exception as start_error:
                    logger.warning("actor %r failed to restart: %r", member.cell.path, start_error)
                    retry = (member, start_error)
                    break
                system.restarts += 1
            if retry is None:
                return
            failed, error = retry
