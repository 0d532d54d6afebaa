"""The store's exception hierarchy: every error says what is wrong and how to fix it."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation failed.

    ``stream_id`` and ``version`` locate the problem when it concerns an event stream,
    ``saga_id`` when it concerns a saga (``None`` otherwise); ``fix`` is one sentence
    telling the user what to do. ``str()`` is one line: what is wrong, then the fix.
    """

    def __init__(
        self,
        message: str,
        *,
        fix: str,
        stream_id: str | None = None,
        version: int | None = None,
        saga_id: str | None = None,
    ) -> None:
        super().__init__(f"{message}; fix: {fix}")
        self.message, self.fix = message, fix
        self.stream_id, self.version, self.saga_id = stream_id, version, saga_id


class ConcurrencyError(StoreError):
    """An append used a stale ``expected_version``: another writer appended first.

    ``version`` is the stream's actual version; ``expected_version`` the caller's.
    """

    def __init__(self, stream_id: str, expected_version: int, actual_version: int) -> None:
        self.expected_version = expected_version
        super().__init__(
            f"stream {stream_id!r} is at version {actual_version}, "
            f"not the expected {expected_version}",
            fix="reload the stream (read_stream), re-apply the command and append again",
            stream_id=stream_id,
            version=actual_version,
        )


class DuplicateCommandError(StoreError):
    """An append carried an idempotency key that was already processed.

    Nothing was appended. ``result`` is the result stored by the first append, which the
    caller should return instead of acting again.
    """

    def __init__(self, idempotency_key: str, stream_id: str, result: dict[str, object]) -> None:
        self.idempotency_key = idempotency_key
        self.result = result
        super().__init__(
            f"command {idempotency_key!r} was already processed on stream {stream_id!r}",
            fix="check processed_result(key) before handling and return the stored result",
            stream_id=stream_id,
        )


class StoreUnavailable(StoreError):
    """The store cannot be reached right now (a dropped connection, a restarting server).

    Transient, not a failure of what was asked: nothing is known to be written or lost.
    Callers pause and try again after ``retry_after_s`` seconds; the store reconnects
    by itself (with backoff) on a later call. The API answers 503 with ``Retry-After``.
    """

    def __init__(self, message: str, *, fix: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message, fix=fix)
        self.retry_after_s = retry_after_s


class CorruptRecord(StoreError):
    """A stored row cannot be read (bad JSON, a version gap, an unknown event type).

    Data corruption, not a transient or business failure: retrying cannot help. The
    affected stream or saga is quarantined; ``stream_id``/``version`` (or ``saga_id``)
    locate the row and ``fix`` says how to repair it.
    """


class LeaseLost(StoreError):
    """A worker wrote a saga transition under a lease it no longer holds: another worker
    claimed the saga (this one was paused or cut off past its lease). Nothing was
    written; the worker stops driving the saga, whose new owner resumes it from the
    store."""
