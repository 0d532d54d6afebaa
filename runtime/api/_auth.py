"""Operator authentication: a bearer token from configuration, never open by default."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Final

from fastapi import Header

from sagacrew.runtime.api._errors import HttpError

OPERATOR_TOKEN_ENV: Final = "SAGACREW_OPERATOR_TOKEN"
"""The environment variable the CLI reads the operator token from."""

_HOW_TO_ENABLE: Final = (
    f"set {OPERATOR_TOKEN_ENV}=<a long random token> (or pass --operator-token) when starting "
    "`sagacrew serve`, then send the header 'Authorization: Bearer <token>'"
)


def operator_guard(token: str | None) -> Callable[[str | None], None]:
    """A FastAPI dependency that admits a request only with ``Authorization: Bearer <token>``.

    ``token`` ``None`` or empty: operator endpoints are disabled and answer 403 with how to
    enable them. A missing or wrong token answers 401 (``WWW-Authenticate: Bearer``).
    Tokens are compared in constant time (``secrets.compare_digest``).
    """
    expected = token.encode("utf-8") if token else None

    def guard(authorization: Annotated[str | None, Header()] = None) -> None:
        if expected is None:
            raise HttpError(
                403,
                "operator endpoints are disabled: no operator token is configured",
                {"fix": _HOW_TO_ENABLE},
            )
        scheme, _, credentials = (authorization or "").partition(" ")
        supplied = credentials.strip().encode("utf-8")
        if scheme.lower() != "bearer" or not secrets.compare_digest(supplied, expected):
            raise HttpError(
                401,
                "operator token missing or wrong",
                {
                    "fix": "send the header 'Authorization: Bearer <token>' with the configured "
                    f"operator token ({OPERATOR_TOKEN_ENV})"
                },
                headers={"WWW-Authenticate": "Bearer"},
            )

    return guard
