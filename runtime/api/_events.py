"""``POST /api/events``: completion events from external systems (a webhook).

An external system that finished long work posts ``{"name", "event_id", "resource_id"
or "correlation_id", "payload"}``. Authentication, as webhook providers do it: the header
``X-Sagacrew-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with the shared secret
of the external system the event belongs to (``serve --event-secret SYSTEM=SECRET``), or
the operator's bearer token. Answers: 202 accepted (the call is completed in the ledger
and the saga told), 400 malformed, 401 unauthenticated, 404 unknown event or call, 409 a
replayed event id or a call that waits for no completion; every error is JSON with the
fix. See :mod:`sagacrew.runtime.externals.inbound` for what each check means.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Final

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sagacrew.runtime.api._auth import OperatorGuard
from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._errors import HttpError
from sagacrew.runtime.api._responses import ANY_REQUEST, RUNNING, error_responses
from sagacrew.runtime.externals.inbound import InboundError

SIGNATURE_HEADER: Final = "X-Sagacrew-Signature"
"""The header carrying ``sha256=<hex HMAC-SHA256 of the body>``."""

_FIX_AUTH: Final = (
    f"sign the raw body with the external system's shared secret and send "
    f"'{SIGNATURE_HEADER}: sha256=<hex digest>' (or 'Authorization: Bearer <operator token>')"
)


class EventIn(BaseModel):
    """A completion event as the external system posts it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    event_id: str = Field(min_length=1, max_length=200)
    resource_id: str | None = Field(default=None, max_length=200)
    correlation_id: str | None = Field(default=None, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)


class EventAccepted(BaseModel):
    """``202``: the event completed a call; ``delivered``: a saga step took it (``false``
    when the saga had given the step up: it then undoes the late work, once)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    system: str
    operation: str
    delivered: bool


def signature(secret: str, body: bytes) -> str:
    """The ``X-Sagacrew-Signature`` value of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def events_router(
    context: AppContext, operator: OperatorGuard, secrets: Mapping[str, str]
) -> APIRouter:
    """The webhook route; ``secrets``: external system → shared secret."""
    router = APIRouter(prefix="/api", tags=["events"])

    @router.post(
        "/events",
        status_code=202,
        response_model=EventAccepted,
        responses=error_responses(*ANY_REQUEST, *RUNNING, 401, 404, 409, 422),
        summary="Deliver an external system's completion event (HMAC-signed webhook).",
    )
    async def receive(request: Request) -> EventAccepted:
        body = await request.body()
        event = _parse(body)
        inbound = context.system.inbound
        try:
            system = inbound.system_of(event.name)
        except InboundError:
            system = None
        if system is None:
            candidates = list(secrets.values())
        else:
            candidates = [secrets[system]] if system in secrets else []
        if not _authentic(request, body, candidates, operator):
            raise HttpError(
                401,
                "the event is not signed with the external system's secret",
                {"fix": _FIX_AUTH},
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            receipt = await context.system.deliver_event(
                event.name,
                event_id=event.event_id,
                payload=event.payload,
                correlation_id=event.correlation_id,
                resource_id=event.resource_id,
            )
        except InboundError as refused:
            raise HttpError(refused.status, refused.message, {"fix": refused.fix}) from None
        return EventAccepted(
            event_id=receipt.event_id,
            system=receipt.system,
            operation=receipt.operation,
            delivered=receipt.delivered,
        )

    return router


def _parse(body: bytes) -> EventIn:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HttpError(
            400, f"the body is not JSON ({error})", {"fix": "send a JSON object"}
        ) from None
    try:
        return EventIn.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        ]
        raise HttpError(
            400,
            "the event is malformed",
            {"problems": problems, "fix": "send {name, event_id, resource_id, payload}"},
        ) from None


def _authentic(request: Request, body: bytes, secrets: list[str], operator: OperatorGuard) -> bool:
    """A valid signature under one of ``secrets``, or the operator's bearer token."""
    sent = request.headers.get(SIGNATURE_HEADER.lower(), "")
    for secret in secrets:
        if secret and hmac.compare_digest(sent.encode("latin-1"), signature(secret, body).encode()):
            return True
    authorization = request.headers.get("authorization")
    return authorization is not None and operator.refusal(authorization) is None
