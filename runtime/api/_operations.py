"""Operator endpoints: dead letters and their redrive; held semantic locks; pause,
resume and drain.

These are the seed's rollback procedure as HTTP calls: pause new sagas, drain the ones
in flight, (restore and re-validate with the CLI), resume. Every route here requires the
operator token (see ``_auth``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from sagacrew.runtime.api._auth import OperatorGuard, operator_router
from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._errors import HttpError
from sagacrew.runtime.api._inputs import DeadLetterIdPath
from sagacrew.runtime.api._locks import held_locks
from sagacrew.runtime.api._models import (
    AdminState,
    DeadLetterList,
    DeadLetterView,
    Drained,
    LockList,
    LockView,
    Redriven,
    view_of,
)
from sagacrew.runtime.api._progress import iso_utc, summary_text
from sagacrew.runtime.api._responses import error_responses
from sagacrew.runtime.saga import SagaError, UnknownSagaError

DRAIN_TIMEOUT_S = 30.0
"""Default of ``POST /api/admin/drain?timeout_s=`` (seconds; at most 3600)."""


def operations_router(ctx: AppContext, operator: OperatorGuard) -> APIRouter:
    """``/api/dead-letters``, ``/api/locks`` and ``/api/admin``, all behind the operator
    token."""
    router = operator_router(operator)
    with_params = error_responses(422)

    @router.get("/dead-letters", response_model=DeadLetterList, responses=with_params)
    async def dead_letters(
        status: Annotated[
            Literal["parked", "redrive_requested", "redriven", "resolved", "all"],
            Query(description="which dead letters (default: parked)"),
        ] = "parked",
    ) -> DeadLetterList:
        """Dead-lettered compensations, oldest first (default: those still parked)."""
        letters = ctx.orchestrator().list_dead_letters(None if status == "all" else status)
        return DeadLetterList(
            dead_letters=[
                view_of(
                    DeadLetterView,
                    letter,
                    created_at=iso_utc(letter.created_at),
                    updated_at=iso_utc(letter.updated_at),
                )
                for letter in letters
                if letter.id is not None  # rows read from the store always have one
            ]
        )

    @router.get("/locks", response_model=LockList)
    async def locks() -> LockList:
        """Semantic locks sagas hold now: each instance in a pending state, by stream id,
        with the saga holding it and the step that acquired it."""
        held = held_locks(ctx.system, ctx.blueprint)
        return LockList(locks=[view_of(LockView, lock) for lock in held])

    @router.post(
        "/dead-letters/{dead_letter_id}/redrive",
        response_model=Redriven,
        responses=error_responses(404, 409, 422),
    )
    async def redrive(dead_letter_id: DeadLetterIdPath) -> Redriven:
        """Re-run a parked compensation, then finish compensating; answers when the saga
        is terminal again (``compensated`` when nothing remains parked)."""
        try:
            result = await ctx.orchestrator().redrive(dead_letter_id)
        except UnknownSagaError as error:
            raise HttpError(404, str(error), {"dead_letter_id": dead_letter_id}) from None
        except SagaError as error:
            raise HttpError(409, str(error), {"dead_letter_id": dead_letter_id}) from None
        saga = ctx.system.store.get_saga(result.saga_id)
        summary = (
            summary_text(result.steps_completed, result.steps_total)
            if saga is None
            else ctx.history(saga).summary
        )
        return Redriven(
            dead_letter_id=dead_letter_id,
            saga_id=result.saga_id,
            state=result.state.value,
            summary=summary,
        )

    @router.post("/admin/pause", response_model=AdminState)
    async def pause() -> AdminState:
        """Refuse new sagas (starts answer 409); sagas in flight go on."""
        orchestrator = ctx.orchestrator()
        orchestrator.pause()
        return AdminState(paused=orchestrator.paused, in_flight=orchestrator.in_flight)

    @router.post("/admin/resume", response_model=AdminState)
    async def resume() -> AdminState:
        """Accept new sagas again."""
        orchestrator = ctx.orchestrator()
        orchestrator.resume()
        return AdminState(paused=orchestrator.paused, in_flight=orchestrator.in_flight)

    @router.post("/admin/drain", response_model=Drained, responses=with_params)
    async def drain(
        timeout_s: Annotated[float, Query(gt=0, le=3600)] = DRAIN_TIMEOUT_S,
    ) -> Drained:
        """Wait up to ``timeout_s`` seconds for the sagas in flight to finish (pause first,
        or new sagas may start meanwhile)."""
        orchestrator = ctx.orchestrator()
        remaining = await orchestrator.drain(timeout_s)
        return Drained(drained=remaining == 0, in_flight=remaining, paused=orchestrator.paused)

    return router
