"""The saga package's exception hierarchy."""

from __future__ import annotations


class SagaError(Exception):
    """Base of every saga error; ``str()`` says what is wrong and how to fix it."""


class SagaDefinitionError(SagaError, ValueError):
    """A saga definition or retry policy is invalid (raised at construction)."""


class UnknownSagaError(SagaError, LookupError):
    """A saga id, saga name or dead letter id is not known."""


class SagaPaused(SagaError):
    """The orchestrator is paused and refuses new sagas (see ``resume()``)."""


class StepFailed(SagaError):
    """Raised by a step action or compensation to report a failure.

    ``retriable=True`` (default): a transient failure, retried per the step's
    :class:`RetryPolicy`. ``retriable=False``: a business refusal; before the pivot the
    saga compensates at once, without retrying. Other exceptions raised by an action:
    :class:`~sagacrew.runtime.store.StoreUnavailable` pauses the saga (it resumes from
    the store once the store is back); corrupt data and programming errors (see
    ``DEFECTS`` in ``_run``) fail the step without retrying; anything else counts as
    transient.
    """

    def __init__(self, reason: str, retriable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retriable = retriable
