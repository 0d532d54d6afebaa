"""A small training-cluster service on loopback: the ML example's external system, for real.

``TrainingService(secret)`` is a FastAPI app (serve it with ``http_helpers.uvicorn_thread``):

- ``POST /jobs`` (JSON ``{run_id, model_name, gpus}``, header ``Idempotency-Key``) starts a
  job and answers ``{job_id, status: "running"}``; the same key answers the same job;
- a job runs for its duration, then the service POSTs the completion event
  (``ml.training_run.completed``, signed ``X-Sagacrew-Signature`` with the shared secret) to
  ``webhook_url``, retrying with exponential backoff until it gets a 2xx or a 409, so it
  survives the saga process being down;
- ``DELETE /jobs/{job_id}`` cancels a running job (``cancelled``: it never reports); a
  finished job answers its status; an unknown one 404;
- ``DELETE /jobs/by-key/{key}`` does the same for the job started with idempotency key
  ``key`` (for a client that never saw the job id: its reply was lost); a key no job has
  is remembered as cancelled (404 now, and a ``POST /jobs`` with it later starts nothing).

Knobs for tests: ``default_duration_s``, :meth:`TrainingService.plan` (per run: duration,
a job that ignores its cancel, i.e. finishes anyway, and replies held back: the job starts
but the first ``slow_replies`` answers to its ``POST`` come only after ``reply_delay_s``),
:meth:`pause_webhooks` / :meth:`resume_webhooks`, :meth:`send_completion_now` (the same
event again, by hand).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi import Header
from fastapi import HTTPException
from fastapi import Request
from fastapi.responses import JSONResponse

from sagacrew.runtime.api import signature

EVENT = "ml.training_run.completed"
"""The completion event of ``dispatch_training`` in the ML example."""


@dataclass
class Plan:
    """How the job of one run behaves: its duration, and whether it finishes anyway when
    cancelled (the DELETE answers ``cancelling``, the job runs on and reports)."""

    duration_s: float
    ignores_cancel: bool = False
    slow_replies: int = 0
    reply_delay_s: float = 0.0


@dataclass
class Job:
    job_id: str
    run_id: str
    model_name: str
    gpus: int
    plan: Plan
    status: str = "running"
    """``running``, then ``completed`` or ``cancelled``."""
    cancels: int = 0
    """DELETE requests it got."""
    task: asyncio.Task[None] | None = field(default=None, repr=False)


@dataclass(eq=False)
class TrainingService:
    """The training cluster; ``webhook_url`` (set it once the saga process is up) receives
    its completion events, signed with ``secret``."""

    secret: str = field(repr=False)
    _: KW_ONLY
    webhook_url: str | None = None
    default_duration_s: float = 0.05
    """How long a job runs unless :meth:`plan` says otherwise."""
    backoff_s: float = 0.02
    """The first wait before a webhook delivery is retried; it doubles each time, up to
    ``max_backoff_s``."""
    max_backoff_s: float = 0.4

    def __post_init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.by_key: dict[str, str] = {}
        self.attempts: list[tuple[str, int | str]] = []
        """Webhook deliveries: ``(job_id, HTTP status or error class name)``."""
        self._plans: dict[str, Plan] = {}
        self._posts: dict[str, int] = {}
        self.cancelled_keys: set[str] = set()
        """Keys cancelled before any job had them (``DELETE /jobs/by-key``)."""
        self._open = threading.Event()
        self._open.set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = self._build()

    # -- knobs ---------------------------------------------------------------------------

    def plan(
        self,
        run_id: str,
        *,
        duration_s: float,
        ignores_cancel: bool = False,
        slow_replies: int = 0,
        reply_delay_s: float = 0.0,
    ) -> None:
        """How the job of ``run_id`` (not yet started) behaves."""
        self._plans[run_id] = Plan(duration_s, ignores_cancel, slow_replies, reply_delay_s)

    def posts_of(self, run_id: str) -> int:
        """``POST /jobs`` requests made for ``run_id``."""
        return self._posts.get(run_id, 0)

    def pause_webhooks(self) -> None:
        """Hold completion events (jobs still finish); :meth:`resume_webhooks` sends them."""
        self._open.clear()

    def resume_webhooks(self) -> None:
        self._open.set()

    def job_of(self, run_id: str) -> Job:
        found = [job for job in self.jobs.values() if job.run_id == run_id]
        assert len(found) == 1, f"run {run_id}: jobs {found}"
        return found[0]

    def attempts_of(self, job_id: str) -> list[int | str]:
        return [outcome for job, outcome in list(self.attempts) if job == job_id]

    def completion(self, job: Job) -> tuple[bytes, dict[str, str]]:
        """The completion event of ``job``: its body and headers (signed)."""
        body = json.dumps(
            {
                "name": EVENT,
                "event_id": f"{job.job_id}:completed",
                "resource_id": job.job_id,
                "payload": {"status": "completed", "result": {"accuracy": 0.93}},
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Sagacrew-Signature": signature(self.secret, body),
        }
        return body, headers

    def send_completion_now(self, job_id: str) -> int:
        """Send ``job_id``'s completion event once more, from the caller's thread; the
        HTTP status it got."""
        assert self.webhook_url is not None
        body, headers = self.completion(self.jobs[job_id])
        return httpx.post(self.webhook_url, content=body, headers=headers, timeout=5).status_code

    # -- the service ---------------------------------------------------------------------

    def _build(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            try:
                yield
            finally:
                for job in self.jobs.values():
                    if job.task is not None:
                        job.task.cancel()

        app = FastAPI(lifespan=lifespan)

        @app.post("/jobs")
        async def start(
            request: Request, idempotency_key: str = Header(alias="Idempotency-Key")
        ) -> dict[str, Any]:
            body = await request.json()
            run_id = str(body["run_id"])
            with self._lock:
                self._posts[run_id] = posts = self._posts.get(run_id, 0) + 1
                if idempotency_key in self.cancelled_keys:
                    return {"job_id": "none", "status": "cancelled"}
                if idempotency_key in self.by_key:
                    job = self.jobs[self.by_key[idempotency_key]]
                else:
                    plan = self._plans.get(run_id, Plan(self.default_duration_s))
                    job = Job(
                        f"job-{next(self._ids)}",
                        run_id,
                        str(body["model_name"]),
                        int(body["gpus"]),
                        plan,
                    )
                    self.jobs[job.job_id] = job
                    self.by_key[idempotency_key] = job.job_id
                    job.task = asyncio.create_task(self._run(job))
            if posts <= job.plan.slow_replies:
                await asyncio.sleep(job.plan.reply_delay_s)  # the client gave up waiting
            return {"job_id": job.job_id, "status": job.status}

        @app.delete("/jobs/by-key/{key}")
        async def cancel_by_key(key: str) -> JSONResponse:
            with self._lock:
                job_id = self.by_key.get(key)
                if job_id is None:
                    self.cancelled_keys.add(key)
                    raise HTTPException(404, f"no job has key {key}; it will start none")
            return self._cancel(self.jobs[job_id])

        @app.delete("/jobs/{job_id}")
        async def cancel(job_id: str) -> JSONResponse:
            job = self.jobs.get(job_id)
            if job is None:
                raise HTTPException(404, f"no job {job_id}")
            return self._cancel(job)

        return app

    def _cancel(self, job: Job) -> JSONResponse:
        """Cancel ``job`` if it runs; answer its status."""
        job.cancels += 1
        if job.status != "running":
            return JSONResponse({"job_id": job.job_id, "status": job.status})
        if job.plan.ignores_cancel:
            return JSONResponse({"job_id": job.job_id, "status": "cancelling"}, status_code=202)
        job.status = "cancelled"
        if job.task is not None:
            job.task.cancel()
        return JSONResponse({"job_id": job.job_id, "status": "cancelled"})

    async def _run(self, job: Job) -> None:
        await asyncio.sleep(job.plan.duration_s)
        if job.status != "running":
            return
        job.status = "completed"
        await self._report(job)

    async def _report(self, job: Job) -> None:
        """POST the completion until the saga process answers 2xx or 409."""
        body, headers = self.completion(job)
        delay = self.backoff_s
        while True:
            while not self._open.is_set():
                await asyncio.sleep(0.01)
            assert self.webhook_url is not None, "set the service's webhook_url"
            outcome: int | str
            try:
                async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=1.0)) as client:
                    response = await client.post(self.webhook_url, content=body, headers=headers)
                outcome = response.status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            self.attempts.append((job.job_id, outcome))
            if isinstance(outcome, int) and (200 <= outcome < 300 or outcome == 409):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff_s)
