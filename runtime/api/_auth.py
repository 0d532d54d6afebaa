"""Operator authentication: a bearer token from configuration, never open by default.

The check runs twice: in the ASGI layer before any byte of the request body is read (see
``_limits``), and as the routes' FastAPI dependency, which also documents the bearer
scheme in ``/api/openapi.json``.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sagacrew.runtime.api._errors import HttpError
from sagacrew.runtime.api._responses import ANY_REQUEST, OPERATOR, RUNNING, error_responses

OPERATOR_TOKEN_ENV: Final = "SAGACREW_OPERATOR_TOKEN"
"""The environment variable the CLI reads the operator token from."""

_HOW_TO_ENABLE: Final = (
    f"set {OPERATOR_TOKEN_ENV}=<a long random token> (or pass --operator-token) when starting "
    "`sagacrew serve`, then send the header 'Authorization: Bearer <token>'"
)

_BEARER: Final = HTTPBearer(
    auto_error=False,
    scheme_name="operator",
    description=f"The operator token ({OPERATOR_TOKEN_ENV} or `sagacrew serve --operator-token`).",
)
"""Only documents the scheme; :class:`OperatorGuard` reads the header itself."""


class OperatorGuard:
    """Admits a request only with ``Authorization: Bearer <token>``.

    ``token`` ``None`` or empty: operator endpoints are disabled and answer 403 with how to
    enable them. A missing or wrong token answers 401 (``WWW-Authenticate: Bearer``).
    Tokens are compared in constant time (``secrets.compare_digest``). An instance is the
    FastAPI dependency of the operator routes; :meth:`refusal` is the same check for the
    ASGI layer.
    """

    def __init__(self, token: str | None) -> None:
        self._expected = token.encode("utf-8") if token else None

    def refusal(self, authorization: str | None) -> HttpError | None:
        """The error to answer for this ``Authorization`` header value, or ``None`` to admit."""
        if self._expected is None:
            return HttpError(
                403,
                "operator endpoints are disabled: no operator token is configured",
                {"fix": _HOW_TO_ENABLE},
            )
        scheme, _, credentials = (authorization or "").partition(" ")
        # Header values arrive decoded as latin-1: encoding back gives the bytes sent.
        supplied = credentials.strip().encode("latin-1", "replace")
        if scheme.lower() != "bearer" or not secrets.compare_digest(supplied, self._expected):
            return HttpError(
                401,
                "operator token missing or wrong",
                {
                    "fix": "send the header 'Authorization: Bearer <token>' with the configured "
                    f"operator token ({OPERATOR_TOKEN_ENV})"
                },
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None

    def __call__(
        self,
        request: Request,
        _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        refusal = self.refusal(request.headers.get("authorization"))
        if refusal is not None:
            raise refusal


def operator_guard(token: str | None) -> OperatorGuard:
    """The operator routes' guard for ``token`` (see :class:`OperatorGuard`)."""
    return OperatorGuard(token)


def operator_router(operator: OperatorGuard) -> APIRouter:
    """A router for operations routes under ``/api``, every one behind ``operator``."""
    return APIRouter(
        prefix="/api",
        dependencies=[Depends(operator)],
        tags=["operations"],
        responses=error_responses(*ANY_REQUEST, *OPERATOR, *RUNNING),
    )
