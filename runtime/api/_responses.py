"""The error responses each route declares, so ``/api/openapi.json`` describes the real
bodies and headers (``tests/test_api_fuzz.py`` checks every response against it)."""

from __future__ import annotations

from typing import Any, Final

from sagacrew.runtime.api._models import ErrorBody

_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "The request body (or its `Content-Length`) could not be parsed.",
    401: "Operator token missing or wrong.",
    403: "Operator endpoints are disabled: no operator token is configured.",
    404: "No such resource (the body says which).",
    409: "Refused in the current state (e.g. new sagas are paused; the body says how to go on).",
    413: "The request body (or the saga input) is larger than the server's limit.",
    422: "Invalid parameters or body; `detail` lists each problem.",
    500: "Unexpected error; the server log has the details.",
    503: "The saga system is not started yet or its store is unavailable; retry after "
    "`Retry-After` seconds.",
}

_HEADERS: Final[dict[int, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "description": "Always `Bearer`.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again (1 to 3600).",
            "required": True,
            "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        }
    },
}

ANY_REQUEST: Final = (400, 413, 500)
"""What any request may get: a malformed ``Content-Length``, a body over the limit, an
unexpected error."""

OPERATOR: Final = (401, 403)
"""What an operator route answers without the right token."""

RUNNING: Final = (503,)
"""What a route that needs the running system or its store answers while they are not."""


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each code with the :class:`ErrorBody` schema, its
    description, and its headers (``WWW-Authenticate`` on 401, ``Retry-After`` on 503)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in sorted(set(codes)):
        response: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        if code in _HEADERS:
            response["headers"] = _HEADERS[code]
        responses[code] = response
    return responses
