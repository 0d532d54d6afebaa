"""The operations package's exception hierarchy: each error says what is wrong and the fix."""

from __future__ import annotations


class OperationsError(Exception):
    """An operation (dead-letter command, rollback, remediation) cannot be carried out.

    ``fix`` is one sentence telling the operator what to do; ``str()`` is one line:
    what is wrong, then the fix.
    """

    def __init__(self, message: str, *, fix: str) -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message}; fix: {fix}")


class UnknownDeadLetterError(OperationsError, LookupError):
    """No dead letter has the given id."""

    def __init__(self, dead_letter_id: int) -> None:
        self.dead_letter_id = dead_letter_id
        super().__init__(
            f"no dead letter with id {dead_letter_id}",
            fix="list them with `sagacrew dead-letters list DIR --status all` and use an id "
            "from the first column",
        )


class NotRedrivableError(OperationsError):
    """The dead letter exists but cannot be redriven (not a compensation, or not parked)."""

    def __init__(self, dead_letter_id: int, why: str, fix: str) -> None:
        self.dead_letter_id = dead_letter_id
        super().__init__(f"dead letter {dead_letter_id} cannot be redriven: {why}", fix=fix)


class SystemNotStartedError(OperationsError):
    """The operation needs a started :class:`~sagacrew.runtime.SagaSystem`."""

    def __init__(self, system: str, operation: str) -> None:
        super().__init__(
            f"{operation} needs the running saga system {system!r}, which is not started "
            "(or was stopped)",
            fix="call `await system.start()` first (it also recovers the sagas in flight)",
        )
