"""The actor runtime's exception hierarchy: every error raised here is an ``ActorError``.

Each error is a dataclass of the facts it carries (equality by identity and the usual
exception ``repr`` kept); its ``_message`` template composes the message from them.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar


class ActorError(Exception):
    """Base class of every error raised by ``sagacrew.runtime.actors``."""

    _message: ClassVar[str] = ""
    """A dataclass error's message: a ``str.format`` template over its fields."""

    def __post_init__(self) -> None:
        super().__init__(self._message.format(**vars(self)))


@dataclass(eq=False, repr=False)
class InvalidSupervisorSpec(ActorError, ValueError):
    """A policy object (``Backoff``, ``ChildSpec``, ``SupervisorSpec``) has an invalid field.

    ``field`` names the offending field and ``value`` holds what was given; the message says
    what to write instead (``fix``).
    """

    _message = "{owner}.{field}={value!r} is invalid: {fix}"
    owner: str
    field: str
    value: Any
    fix: str


@dataclass(eq=False, repr=False)
class _PathError(ActorError):
    """Something is wrong with the actor at ``path``: ``reason`` says what."""

    path: str
    reason: str


class InvalidActorName(_PathError, ValueError):
    """An actor name is empty, contains ``/``, or is already taken at that path."""

    _message = "invalid actor name at {path!r}: {reason}"


class ActorNotFound(_PathError, LookupError):
    """``ActorSystem.lookup`` found no live actor (or several, for a plain name)."""

    _message = "no actor {path!r}: {reason}"


@dataclass(eq=False, repr=False)
class AskTimeout(ActorError, TimeoutError):
    """No reply to ``ActorRef.ask`` within ``timeout_s``.

    The message stays in the actor's mailbox and is still handled; its reply is discarded.
    """

    _message = (
        "actor {path!r} did not reply to {message!r} within {timeout_s} s; raise timeout_s, "
        "or check that the actor is not blocked or asking itself"
    )
    path: str
    message: Any
    timeout_s: float


@dataclass(eq=False, repr=False)
class DeadLetterError(ActorError):
    """An ``ask`` could not be delivered or answered because the actor is stopped."""

    _message = "message {message!r} to actor {path!r} is a dead letter: {reason}"
    path: str
    message: Any
    reason: str


@dataclass(eq=False, repr=False)
class ActorInitializationError(ActorError):
    """An actor failed to start: its factory or ``pre_start`` raised (the cause is chained).

    Raised by ``ActorSystem.start`` / ``ActorSystem.spawn`` / ``ActorContext.spawn`` when the
    first start fails; ``path`` names the innermost actor that failed.
    """

    _message = "actor {path!r} failed to start: {error!r}"
    path: str
    error: BaseException


@dataclass(eq=False, repr=False)
class SupervisionError(ActorError):
    """A supervisor exceeded its restart intensity and gave up.

    More than ``intensity`` restarts happened within ``period_s``; the supervisor stopped all its
    children and failed, escalating this error to its own parent. ``restart_count`` is the number
    of restarts counted in the period, ``child_path`` the child whose failure tipped it over and
    ``error`` that child's exception (also the ``__cause__``), or ``None`` after a normal exit.
    """

    _message = (
        "supervisor {path!r} gave up after {restart_count} restarts within {period_s} s "
        "(intensity {intensity}); last failure in {child_path!r}: {error!r}. Fix the failing "
        "child, or raise intensity / lower period_s if the failures are expected"
    )
    path: str
    restart_count: int
    _: KW_ONLY
    intensity: int
    period_s: float
    child_path: str
    error: BaseException | None
