"""asyncio actors with Erlang/OTP supervision and Akka Typed's resume and restart with backoff.

Import everything from here::

    from sagacrew.runtime.actors import Actor, ActorSystem, ChildSpec, SupervisorSpec

An ``Actor`` handles one message at a time in ``receive``; ``ActorRef.tell`` sends without
waiting, ``ActorRef.ask`` waits for ``receive``'s return value. Supervisors (``SupervisorSpec``)
start their children in order, stop them in reverse order, and restart them by strategy
(``one_for_one``, ``one_for_all``, ``rest_for_one``) and restart type (``permanent``,
``transient``, ``temporary``), giving up when more than ``intensity`` restarts happen within
``period_s``. A mailbox survives restarts; messages to stopped actors become dead letters.
This package knows nothing of storage or SQL.
"""

from ._actor import Actor, ActorContext
from ._dead_letters import DeadLetter, DeadLetters
from ._errors import (
    ActorError,
    ActorInitializationError,
    ActorNotFound,
    AskTimeout,
    DeadLetterError,
    InvalidActorName,
    InvalidSupervisorSpec,
    SupervisionError,
)
from ._later import ReplyLater
from ._policy import (
    Backoff,
    ChildSpec,
    Decider,
    Directive,
    RestartType,
    Strategy,
    SupervisorSpec,
    directives,
)
from ._ref import ActorRef
from ._supervisor import ChildInfo, WhichChildren
from ._system import ActorSystem, MessageObserver

__all__ = [
    "Actor",
    "ActorContext",
    "ActorError",
    "ActorInitializationError",
    "ActorNotFound",
    "ActorRef",
    "ActorSystem",
    "AskTimeout",
    "Backoff",
    "ChildInfo",
    "ChildSpec",
    "DeadLetter",
    "DeadLetterError",
    "DeadLetters",
    "Decider",
    "Directive",
    "InvalidActorName",
    "InvalidSupervisorSpec",
    "MessageObserver",
    "ReplyLater",
    "RestartType",
    "Strategy",
    "SupervisionError",
    "SupervisorSpec",
    "WhichChildren",
    "directives",
]
