"""The actor runtime's exception hierarchy: every error raised here is an ``ActorError``.

Each error is a dataclass of the facts it carries (equality by identity and the usual
exception ``repr`` kept); ``__post_init__`` composes its message from them.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar


class ActorError(Exception):
    """Base class of every error raised by ``sagacrew.runtime.actors``."""


@dataclass(eq=False, repr=False)
class InvalidSupervisorSpec(ActorError, ValueError):
    """A policy object (``Backoff``, ``ChildSpec``, ``SupervisorSpec``) has an invalid field.

    ``field`` names the offending field and ``value`` holds what was given; the message says
    what to write instead (``fix``).
    """

    owner: str
    field: str
    value: Any
    fix: str

    def __post_init__(self) -> None:
        super().__init__(f"{self.owner}.{self.field}={self.value!r} is invalid: {self.fix}")


@dataclass(eq=False, repr=False)
class _PathError(ActorError):
    """Something is wrong with the actor at ``path``: ``reason`` says what."""

    path: str
    reason: str
    _problem: ClassVar[str]
    """The message's start, before the path."""

    def __post_init__(self) -> None:
        super().__init__(f"{self._problem} {self.path!r}: {self.reason}")


class InvalidActorName(_PathError, ValueError):
    """An actor name is empty, contains ``/``, or is already taken at that path."""

    _problem = "invalid actor name at"


class ActorNotFound(_PathError, LookupError):
    """``ActorSystem.lookup`` found no live actor (or several, for a plain name)."""

    _problem = "no actor"


@dataclass(eq=False, repr=False)
class AskTimeout(ActorError, TimeoutError):
    """No reply to ``ActorRef.ask`` within ``timeout_s``.

    The message stays in the actor's mailbox and is still handled; its reply is discarded.
    """

    path: str
    message: Any
    timeout_s: float

    def __post_init__(self) -> None:
        super().__init__(
            f"actor {self.path!r} did not reply to {self.message!r} within {self.timeout_s} s; "
            "raise timeout_s, or check that the actor is not blocked or asking itself"
        )


@dataclass(eq=False, repr=False)
class DeadLetterError(ActorError):
    """An ``ask`` could not be delivered or answered because the actor is stopped."""

    path: str
    message: Any
    reason: str

    def __post_init__(self) -> None:
        super().__init__(
            f"message {self.message!r} to actor {self.path!r} is a dead letter: {self.reason}"
        )


@dataclass(eq=False, repr=False)
class ActorInitializationError(ActorError):
    """An actor failed to start: its factory or ``pre_start`` raised (the cause is chained).

    Raised by ``ActorSystem.start`` / ``ActorSystem.spawn`` / ``ActorContext.spawn`` when the
    first start fails; ``path`` names the innermost actor that failed.
    """

    path: str
    error: BaseException

    def __post_init__(self) -> None:
        super().__init__(f"actor {self.path!r} failed to start: {self.error!r}")


@dataclass(eq=False, repr=False)
class SupervisionError(ActorError):
    """A supervisor exceeded its restart intensity and gave up.

    More than ``intensity`` restarts happened within ``period_s``; the supervisor stopped all its
    children and failed, escalating this error to its own parent. ``restart_count`` is the number
    of restarts counted in the period, ``child_path`` the child whose failure tipped it over and
    ``error`` that child's exception (also the ``__cause__``), or ``None`` after a normal exit.
    """

    path: str
    restart_count: int
    _: KW_ONLY
    intensity: int
    period_s: float
    child_path: str
    error: BaseException | None

    def __post_init__(self) -> None:
        super().__init__(
            f"supervisor {self.path!r} gave up after {self.restart_count} restarts within "
            f"{self.period_s} s (intensity {self.intensity}); last failure in "
            f"{self.child_path!r}: {self.error!r}. Fix the failing child, or raise intensity "
            "/ lower period_s if the failures are expected"
        )
