"""The status API's exception hierarchy and its JSON error responses.

Every error response has the body ``{"error": "<one line: what is wrong>", "detail": ...}``
(``detail``: ``null``, or data that helps fix the request, e.g. the known saga names).
Tracebacks, saga data and step errors never reach a response body.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sagacrew.runtime.store import StoreUnavailable

logger = logging.getLogger("sagacrew.runtime.api")


class ApiError(Exception):
    """Base of every error of ``sagacrew.runtime.api``; ``str()`` says what to fix."""


class HttpError(ApiError):
    """An error answered as JSON with ``status_code``.

    ``error`` is one line for a person; ``detail`` (default ``None``) is any JSON value
    that helps fix the request; ``headers`` (default none) are added to the response
    (e.g. ``WWW-Authenticate`` on a 401).
    """

    def __init__(
        self,
        status_code: int,
        error: str,
        detail: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})


class ServeError(ApiError):
    """``serve()`` could not start (e.g. the port is taken); ``str()`` says what to do."""


MAX_RETRY_AFTER_S: Final = 3600
"""The longest ``Retry-After`` the API sends (seconds)."""


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` header value for ``seconds``: whole seconds, 1 to an hour."""
    if not math.isfinite(seconds):
        return str(MAX_RETRY_AFTER_S)
    return str(min(MAX_RETRY_AFTER_S, max(1, math.ceil(seconds))))


def store_unavailable_error(exc: StoreUnavailable) -> HttpError:
    """503 with ``Retry-After``; the cause (which may name hosts) goes to the log only."""
    wait = retry_after(exc.retry_after_s)
    return HttpError(
        503,
        f"the saga store is unavailable right now; retry in {wait} s",
        {"retry_after_s": int(wait), "fix": "retry later; operators: the server log has the cause"},
        headers={"Retry-After": wait},
    )


def error_response(
    status_code: int,
    error: str,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON error body every endpoint uses."""
    return JSONResponse(
        {"error": error, "detail": detail}, status_code=status_code, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error (ours, routing, validation, store outage, unexpected) with the
    JSON error body; a store outage is 503 with ``Retry-After``."""

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HttpError)
        return error_response(exc.status_code, exc.error, exc.detail, exc.headers)

    async def on_starlette_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such page or endpoint: {request.url.path}"
        return error_response(exc.status_code, message, None, exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg"))}
            for error in exc.errors()
        ]
        return error_response(422, "invalid request: see detail for each problem", problems)

    async def on_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StoreUnavailable)
        logger.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
        error = store_unavailable_error(exc)
        return error_response(error.status_code, error.error, error.detail, error.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; the server log has the details")

    app.add_exception_handler(HttpError, on_http_error)
    app.add_exception_handler(StarletteHTTPException, on_starlette_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StoreUnavailable, on_store_unavailable)
    app.add_exception_handler(Exception, on_unexpected)
