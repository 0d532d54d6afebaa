"""Operator endpoint: the durable alerts of the store's ``alerts`` table.

``GET /api/alerts?delivered=true|false&limit=`` lists them oldest first, with their
delivery state (see :mod:`sagacrew.runtime.alerts`). It requires the operator token: an
alert's error names sagas, steps and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from pydantic.dataclasses import dataclass as pydantic_dataclass

from sagacrew.runtime.api._auth import OperatorGuard, operator_router
from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._models import view_of
from sagacrew.runtime.api._progress import iso_utc
from sagacrew.runtime.api._responses import error_responses
from sagacrew.runtime.store import AlertCore, AlertRecord

ALERTS_LIMIT: Final = 1000
"""Default and largest ``limit`` of ``GET /api/alerts``."""


@dataclass(frozen=True)
class _Numbered:
    """A stored row's ``id``: a base class, so that it comes first in the body."""

    id: int


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class AlertView(AlertCore, _Numbered):
    """An alert for operators (times ISO 8601 in UTC; ``delivered_at`` ``null`` until
    every sink took it). ``saga_id``, ``step_name`` ... are ``""`` when the alert concerns
    no saga or step; ``stream_id`` names the stream of a quarantined-stream alert."""

    # Dataclass fields come base classes first, the last base first: ``id``, then what
    # every alert says (:class:`AlertCore`), then these; the body keeps this order.
    dead_letter_id: int | None
    stream_id: str | None
    raised_at: str
    delivered_at: str | None
    delivery_attempts: int
    last_delivery_error: str | None


class AlertList(BaseModel):
    """``GET /api/alerts``: alerts, oldest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alerts: list[AlertView]


def alert_view(alert: AlertRecord) -> AlertView:
    """An ``alerts`` row as the API shows it (rows read from the store have an id)."""
    return view_of(
        AlertView,
        alert,
        id=alert.id if alert.id is not None else 0,
        raised_at=iso_utc(alert.raised_at),
        delivered_at=None if alert.delivered_at is None else iso_utc(alert.delivered_at),
    )


def alerts_router(ctx: AppContext, operator: OperatorGuard) -> APIRouter:
    """``/api/alerts``, behind the operator token."""
    router = operator_router(operator)

    @router.get("/alerts", response_model=AlertList, responses=error_responses(422))
    async def alerts(
        delivered: Annotated[
            bool | None,
            Query(description="true: delivered to every sink; false: still to deliver"),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=ALERTS_LIMIT, description="at most this many, oldest first")
        ] = ALERTS_LIMIT,
    ) -> AlertList:
        """Alerts raised for operators (a dead-lettered compensation, a stalled saga, a
        quarantined stream ...), oldest first, with their delivery state."""
        rows = ctx.system.store.list_alerts(delivered=delivered, limit=limit)
        return AlertList(alerts=[alert_view(row) for row in rows])

    return router
