"""The actor runtime's exception hierarchy: every error raised here is an ``ActorError``."""

from __future__ import annotations

from typing import Any


class ActorError(Exception):
    """Base class of every error raised by ``sagacrew.runtime.actors``."""


class InvalidSupervisorSpec(ActorError, ValueError):
    """A policy object (``Backoff``, ``ChildSpec``, ``SupervisorSpec``) has an invalid field.

    ``field`` names the offending field and ``value`` holds what was given; the message says
    what to write instead.
    """

    def __init__(self, owner: str, field: str, value: Any, fix: str) -> None:
        self.owner = owner
        self.field = field
        self.value = value
        super().__init__(f"{owner}.{field}={value!r} is invalid: {fix}")


class InvalidActorName(ActorError, ValueError):
    """An actor name is empty, contains ``/``, or is already taken at that path."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"invalid actor name at {path!r}: {reason}")


class ActorNotFound(ActorError, LookupError):
    """``ActorSystem.lookup`` found no live actor (or several, for a plain name)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"no actor {path!r}: {reason}")


class AskTimeout(ActorError, TimeoutError):
    """No reply to ``ActorRef.ask`` within ``timeout_s``.

    The message stays in the actor's mailbox and is still handled; its reply is discarded.
    """

    def __init__(self, path: str, message: Any, timeout_s: float) -> None:
        self.path = path
        self.message = message
        self.timeout_s = timeout_s
        super().__init__(
            f"actor {path!r} did not reply to {message!r} within {timeout_s} s; "
            "raise timeout_s, or check that the actor is not blocked or asking itself"
        )


class DeadLetterError(ActorError):
    """An ``ask`` could not be delivered or answered because the actor is stopped."""

    def __init__(self, path: str, message: Any, reason: str) -> None:
        self.path = path
        self.message = message
        self.reason = reason
        super().__init__(f"message {message!r} to actor {path!r} is a dead letter: {reason}")


class ActorInitializationError(ActorError):
    """An actor failed to start: its factory or ``pre_start`` raised (the cause is chained).

    Raised by ``ActorSystem.start`` / ``ActorSystem.spawn`` / ``ActorContext.spawn`` when the
    first start fails; ``path`` names the innermost actor that failed.
    """

    def __init__(self, path: str, error: BaseException) -> None:
        self.path = path
        self.error = error
        super().__init__(f"actor {path!r} failed to start: {error!r}")


class SupervisionError(ActorError):
    """A supervisor exceeded its restart intensity and gave up.

    More than ``intensity`` restarts happened within ``period_s``; the supervisor stopped all its
    children and failed, escalating this error to its own parent. ``restart_count`` is the number
    of restarts counted in the period, ``child_path`` the child whose failure tipped it over and
    ``error`` that child's exception (also the ``__cause__``), or ``None`` after a normal exit.
    """

    def __init__(
        self,
        path: str,
        restart_count: int,
        *,
        intensity: int,
        period_s: float,
        child_path: str,
        error: BaseException | None,
    ) -> None:
        self.path = path
        self.restart_count = restart_count
        self.intensity = intensity
        self.period_s = period_s
        self.child_path = child_path
        self.error = error
        super().__init__(
            f"supervisor {path!r} gave up after {restart_count} restarts within {period_s} s "
            f"(intensity {intensity}); last failure in {child_path!r}: {error!r}. Fix the "
            "failing child, or raise intensity / lower period_s if the failures are expected"
        )
