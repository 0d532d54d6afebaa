"""Saga endpoints: status (customer-facing), list, start (operator) and the flowchart SVG."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Response

from sagacrew.runtime.api._auth import OperatorGuard
from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._errors import HttpError
from sagacrew.runtime.api._inputs import (
    SagaIdPath,
    SagaNamePath,
    SagaNameQuery,
    check_saga_input,
)
from sagacrew.runtime.api._models import (
    SagaList,
    SagaListItem,
    SagaStarted,
    SagaStatusView,
    StepView,
)
from sagacrew.runtime.api._progress import iso_utc, step_statuses, summary_text
from sagacrew.runtime.api._responses import ANY_REQUEST, OPERATOR, RUNNING, error_responses
from sagacrew.runtime.saga import SagaError, SagaPaused, SagaState, UnknownSagaError

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
        limit: Annotated[int, Query(ge=1, le=1000, description="newest first")] = 50,
    ) -> SagaList:
        """Sagas, newest first (default 50): id, type, state, summary and start time."""
        rows = ctx.system.store.saga_summaries(
            states=_states(state), saga_name=saga_name or None, limit=limit
        )
        return SagaList(
            sagas=[
                SagaListItem(
                    saga_id=row.saga_id,
                    saga_name=row.saga_name,
                    state=row.state,
                    summary=summary_text(row.steps_completed, row.steps_total),
                    started_at=iso_utc(row.started_at),
                )
                for row in rows
            ]
        )

    @router.get("/{saga_id}/status", response_model=SagaStatusView, responses=by_id)
    async def saga_status(saga_id: SagaIdPath) -> SagaStatusView:
        """A saga's progress ("2 of 5 steps complete") and each step's status.

        Customer-facing: no saga data, step results, errors or other ids.
        """
        orchestrator = ctx.orchestrator()
        try:
            status = orchestrator.status(saga_id)
        except UnknownSagaError:
            raise HttpError(404, "no saga with this id", {"saga_id": saga_id}) from None
        outline = ctx.outline(status.saga_name)
        store = ctx.system.store
        parked = {
            letter.step_index
            for letter in store.list_dead_letters(status="parked", saga_id=saga_id)
            if letter.kind == "compensation" and letter.step_index is not None
        }
        statuses = step_statuses(
            outline,
            store.step_log(saga_id),
            parked_steps=parked,
            saga_state=status.state.value,
            current_step=status.current_step,
        )
        return SagaStatusView(
            saga_id=status.saga_id,
            saga_name=status.saga_name,
            state=status.state.value,
            steps_completed=status.steps_completed,
            steps_total=status.steps_total,
            summary=status.summary,
            current_step=status.current_step,
            steps=[
                StepView(name=step.name, status=step_status, pivot=step.pivot)
                for step, step_status in zip(outline, statuses, strict=True)
            ],
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
