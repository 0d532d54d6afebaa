"""Refuse a request before its body is read: the operator token first, then the size.

:class:`RequestGuard` is a pure ASGI middleware (it never buffers more than the limit):

1. on an operator route (one whose dependencies include the :class:`OperatorGuard`), a
   missing or wrong token answers 401/403 without reading a byte of the body;
2. a ``Content-Length`` over ``max_body_bytes`` answers 413 without reading the body;
3. a body of unknown length (chunked) is counted as it arrives and refused with 413 as
   soon as it passes the limit; an accepted body is handed to the app as received.

A refusal of a request whose body is left unread carries ``Connection: close``, so the
server closes the connection instead of draining the rest of the body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import fastapi.routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sagacrew.runtime.api._auth import OperatorGuard
from sagacrew.runtime.api._errors import HttpError, error_response

DEFAULT_MAX_BODY_BYTES: Final = 1 << 20
"""Default of ``create_app(max_body_bytes=)``: 1 MiB."""

MAX_BODY_BYTES_ENV: Final = "SAGACREW_MAX_BODY_BYTES"
"""The environment variable ``sagacrew serve`` reads the body limit from."""

MAX_INPUT_BYTES_ENV: Final = "SAGACREW_MAX_INPUT_BYTES"
"""The environment variable ``sagacrew serve`` reads the saga-input limit from."""


class RequestGuard:
    """The ASGI middleware described in the module docstring.

    ``routes`` is the app's route list (``app.routes``; read at the first request, when
    every router is included); ``guard`` the operator routes' dependency.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        guard: OperatorGuard,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.routes = routes
        self.guard = guard
        self.max_body_bytes = max_body_bytes
        self._table: list[tuple[BaseRoute, bool]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        unread = "transfer-encoding" in headers or headers.get("content-length", "0") != "0"
        if self._is_operator_route(scope):
            refusal = self.guard.refusal(headers.get("authorization"))
            if refusal is not None:
                await _refuse(refusal, scope, receive, send, close=unread)
                return
        refusal = self._declared_length_refusal(headers.get("content-length"))
        if refusal is not None:
            await _refuse(refusal, scope, receive, send, close=True)
            return
        if not unread:
            await self.app(scope, receive, send)
            return
        body = await self._read_body(receive)
        if body is None:  # the client went away; nobody to answer
            return
        if len(body) > self.max_body_bytes:
            await _refuse(self._too_large(), scope, receive, send, close=True)
            return
        await self.app(scope, _replay(body, receive), send)

    def _declared_length_refusal(self, declared: str | None) -> HttpError | None:
        if declared is None:
            return None
        text = declared.strip()
        if not (text.isascii() and text.isdigit()):
            return HttpError(
                400,
                f"Content-Length {declared[:40]!r} is not a number of bytes",
                {"fix": "send the body's length in bytes, or use chunked transfer encoding"},
            )
        digits = text.lstrip("0") or "0"
        # Lengths first: int() refuses a string of thousands of digits.
        if len(digits) > len(str(self.max_body_bytes)) or int(digits) > self.max_body_bytes:
            return self._too_large(int(digits) if len(digits) <= 30 else None)
        return None

    def _too_large(self, declared: int | None = None) -> HttpError:
        size = "" if declared is None else f" ({declared} bytes)"
        return HttpError(
            413,
            f"request body{size} is larger than the limit of {self.max_body_bytes} bytes; "
            f"send a smaller body, or start the server with a larger --max-body-bytes "
            f"({MAX_BODY_BYTES_ENV})",
            {"max_body_bytes": self.max_body_bytes},
        )

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The body, or as much as passes the limit by one chunk; ``None`` on disconnect."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            chunks.append(chunk)
            if size > self.max_body_bytes or not message.get("more_body", False):
                return b"".join(chunks)

    def _is_operator_route(self, scope: Scope) -> bool:
        """Whether the route the router will pick (its first full match) is an operator's."""
        if self._table is None:
            self._table = [(route, _depends_on(route, self.guard)) for route in _flat(self.routes)]
        for route, guarded in self._table:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return guarded
        return False


def _flat(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """Every route in routing order, through included routers.

    Recent FastAPI versions keep an included router as one entry of ``app.routes`` and
    list its routes with ``iter_route_contexts``; older ones copy them into the list.
    """
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        return list(routes)
    return [context.original_route for context in iterate(routes)]


def _depends_on(route: BaseRoute, guard: OperatorGuard) -> bool:
    if not isinstance(route, APIRoute):
        return False
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is guard:
            return True
        pending.extend(dependant.dependencies)
    return False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` in one message, then defers to ``receive``."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(
    error: HttpError, scope: Scope, receive: Receive, send: Send, *, close: bool
) -> None:
    headers = dict(error.headers)
    if close:
        headers["Connection"] = "close"
    response = error_response(error.status_code, error.error, error.detail, headers)
    await response(scope, receive, send)
