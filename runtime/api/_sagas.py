"""Saga endpoints: status (customer-facing), list, start (operator) and the flowchart SVG."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Response

from sagacrew.runtime.api._auth import OperatorGuard
from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._errors import HttpError
from sagacrew.runtime.api._history import FAILED_STATES, list_summary, milliseconds, reason_of
from sagacrew.runtime.api._inputs import (
    ID_PATTERN,
    SagaIdPath,
    SagaNamePath,
    SagaNameQuery,
    check_saga_input,
)
from sagacrew.runtime.api._locks import saga_locks
from sagacrew.runtime.api._models import (
    HeldLockView,
    SagaList,
    SagaListItem,
    SagaStarted,
    SagaStatusView,
    view_of,
)
from sagacrew.runtime.api._progress import iso_utc
from sagacrew.runtime.api._responses import ANY_REQUEST, OPERATOR, RUNNING, error_responses
from sagacrew.runtime.saga import SagaError, SagaPaused, SagaState
from sagacrew.runtime.store import SagaSummary

SAGA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
"""Ids accepted when an operator chooses a saga's id: URL-safe, at most 128 characters."""

_STATES = [state.value for state in SagaState]
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}

FLOWCHART_CSP = "default-src 'none'; style-src 'unsafe-inline'"
"""Served with the SVG so that, opened on its own, it can never run a script."""


def sagas_router(ctx: AppContext, operator: OperatorGuard) -> APIRouter:
    """``/api/sagas``: list, start, status and flowchart."""
    router = APIRouter(prefix="/api/sagas", tags=["sagas"])
    reads = error_responses(*ANY_REQUEST, *RUNNING, 422)
    by_id = error_responses(*ANY_REQUEST, *RUNNING, 404, 422)

    @router.get("", response_model=SagaList, responses=reads)
    async def list_sagas(
        state: Annotated[
            str | None,
            Query(
                max_length=1000,
                description="comma-separated saga states, e.g. running,waiting",
            ),
        ] = None,
        saga_name: SagaNameQuery = None,
        reason: Annotated[
            str | None,
            Query(
                max_length=200,
                pattern=ID_PATTERN,
                description="only sagas whose failure reason contains this text (any case)",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="newest first")] = 50,
        offset: Annotated[int, Query(ge=0, le=10**9, description="sagas to skip")] = 0,
    ) -> SagaList:
        """A page of sagas, newest first (default 50): id, type, state, summary, times,
        duration and failure reason; with the count of sagas in each state."""
        store = ctx.system.store
        rows = store.saga_page(
            states=_states(state),
            saga_name=saga_name or None,
            error_contains=reason or None,
            limit=limit + 1,
            offset=offset,
        )
        counts = store.saga_state_counts()
        return SagaList(
            sagas=[_list_item(*row) for row in rows[:limit]],
            offset=offset,
            next_offset=offset + limit if len(rows) > limit else None,
            counts={name: counts.get(name, 0) for name in _STATES},
        )

    @router.get("/{saga_id}/status", response_model=SagaStatusView, responses=by_id)
    async def saga_status(saga_id: SagaIdPath) -> SagaStatusView:
        """A saga's progress, why it failed and at which step, each step's attempts,
        times, last error, next retry and compensation, its locks and its timeline.

        No saga data or step results; errors are one short line each without the saga's
        values, ids or secrets.
        """
        orchestrator = ctx.orchestrator()
        store = ctx.system.store
        saga = store.get_saga(saga_id)
        if saga is None:
            raise HttpError(404, "no saga with this id", {"saga_id": saga_id})
        status = orchestrator.status(saga_id)
        history = ctx.history(saga)
        ended = saga.ended_at
        return view_of(
            SagaStatusView,
            saga,
            summary=history.summary,
            current_step=status.current_step,
            started_at=iso_utc(saga.started_at),
            ended_at=None if ended is None else iso_utc(ended),
            duration_ms=None if ended is None else milliseconds(ended - saga.started_at),
            failure_reason=history.failure_reason,
            failed_step=history.failed_step,
            locks=[
                HeldLockView(aggregate=lock.aggregate, step_name=lock.step_name)
                for lock in saga_locks(ctx.system, ctx.blueprint, saga)
            ],
            dead_letters=history.dead_letters,
            steps=history.steps,
            timeline=history.timeline,
        )

    @router.get(
        "/{saga_id}/flowchart.svg",
        response_class=Response,
        responses={
            200: {
                "description": "The flowchart (SVG).",
                "content": {"image/svg+xml": {"schema": {"type": "string"}}},
            },
            **by_id,
        },
    )
    async def saga_flowchart(saga_id: SagaIdPath) -> Response:
        """The flowchart (Graphviz SVG) of the saga's type."""
        saga = ctx.system.store.get_saga(saga_id)
        if saga is None:
            raise HttpError(404, "no saga with this id", {"saga_id": saga_id})
        name = saga.saga_name
        folder = ctx.flowcharts_dir
        if folder is None or "/" in name or "\\" in name or name.startswith("."):
            raise HttpError(404, f"no flowchart is served for saga type {name!r}")
        svg = folder / f"{name}.svg"
        if not svg.is_file():
            raise HttpError(
                404,
                f"no flowchart for saga type {name!r}: {svg} is missing",
                {
                    "fix": "install Graphviz (apt-get install graphviz) and run "
                    "`sagacrew generate` again to render the SVG"
                },
            )
        return Response(
            svg.read_bytes(),
            media_type="image/svg+xml",
            headers={"Content-Security-Policy": FLOWCHART_CSP, "Cache-Control": "no-cache"},
        )

    @router.post(
        "/{saga_name}",
        status_code=202,
        response_model=SagaStarted,
        dependencies=[Depends(operator)],
        responses=error_responses(*ANY_REQUEST, *RUNNING, *OPERATOR, 404, 409, 422),
    )
    async def start_saga(
        saga_name: SagaNamePath,
        response: Response,
        data: Annotated[dict[str, Any] | None, Body(description="the saga's input")] = None,
        saga_id: Annotated[
            str | None,
            Query(
                pattern=SAGA_ID_PATTERN,
                description="choose the id (a repeated start with it starts nothing twice)",
            ),
        ] = None,
    ) -> SagaStarted:
        """Start a saga with the JSON body as its input (operator); 202 with its id.

        The input is at most the server's ``max_input_bytes`` as compact JSON (413 above),
        nests at most 32 levels and holds no NUL character (422)."""
        orchestrator = ctx.orchestrator()
        if saga_name not in orchestrator.definitions:
            raise HttpError(
                404, f"unknown saga type {saga_name!r}", {"known": sorted(orchestrator.definitions)}
            )
        data = data or {}
        check_saga_input(data, ctx.max_input_bytes)
        problems = _input_problems(ctx.saga_entry(saga_name), data)
        if problems:
            raise HttpError(422, f"invalid input for saga {saga_name!r}", problems)
        try:
            started = await orchestrator.start(saga_name, data, saga_id=saga_id)
        except SagaPaused:
            raise HttpError(
                409,
                "new sagas are paused",
                {"fix": "POST /api/admin/resume to accept new sagas again"},
            ) from None
        except SagaError as error:
            raise HttpError(409, str(error)) from None
        quoted = quote(started, safe="")
        status_url = f"/api/sagas/{quoted}/status"
        response.headers["Location"] = status_url
        return SagaStarted(
            saga_id=started,
            saga_name=saga_name,
            status_url=status_url,
            page_url=f"/sagas/{quoted}",
        )

    return router


def _list_item(summary: SagaSummary, ended_at: float | None, error: str | None) -> SagaListItem:
    """A list row; the failure reason is the saga's error, shortened (ids removed)."""
    reason = reason_of(error, [summary.saga_id])
    return SagaListItem(
        saga_id=summary.saga_id,
        saga_name=summary.saga_name,
        state=summary.state,
        summary=list_summary(summary.state, summary.steps_completed, summary.steps_total, reason),
        started_at=iso_utc(summary.started_at),
        ended_at=None if ended_at is None else iso_utc(ended_at),
        duration_ms=None if ended_at is None else milliseconds(ended_at - summary.started_at),
        failure_reason=reason if summary.state in FAILED_STATES else None,
    )


def _states(state: str | None) -> list[str] | None:
    """The comma-separated states of ``?state=`` (``None``: any), each a known state."""
    states = [part.strip() for part in (state or "").split(",") if part.strip()]
    if not states:
        return None
    unknown = sorted(set(states) - set(_STATES))
    if unknown:
        raise HttpError(422, f"unknown saga states {unknown}", {"known": _STATES})
    return states


def _input_problems(entry: Mapping[str, Any] | None, data: Mapping[str, Any]) -> list[str]:
    """Fields the blueprint declares for the saga that are missing or of the wrong type."""
    declared = entry.get("inputs") if entry is not None else None
    if not isinstance(declared, Mapping):
        return []
    problems = []
    for name, kind in sorted(declared.items()):
        allowed = _TYPES.get("list" if str(kind).startswith("list[") else str(kind))
        if name not in data:
            problems.append(f"missing field {name!r} ({kind})")
        elif allowed is not None and (
            not isinstance(data[name], allowed)
            or (isinstance(data[name], bool) and bool not in allowed)
        ):
            problems.append(f"field {name!r} must be {kind}, not {type(data[name]).__name__}")
    return problems
