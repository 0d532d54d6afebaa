"""SAGA-L004 samples: the seed's 5-second polling loop (GAP-007), and loops that are fine."""

import asyncio
import time
from typing import Any


def await_training_completion(client: Any, run_id: str, max_wait_s: float = 300.0) -> Any:
    waited_s = 0.0
    while waited_s < max_wait_s:
        status = client.get_status(run_id)
        if status == "completed":
            return client.result(run_id)
        time.sleep(5)
        waited_s += 5
    raise TimeoutError(run_id)


async def wait_jobs(cluster: Any, job_ids: list[str]) -> None:
    for job_id in job_ids:
        for _ in range(60):
            job = await cluster.fetch(job_id)
            if job.state == "done":
                break
            await asyncio.sleep(1.0)


async def retry_with_backoff(action: Any, attempts: int = 3) -> Any:
    delay_s = 0.05
    for attempt in range(attempts):
        try:
            return await action()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(delay_s)
            delay_s *= 2
    return None


async def drain(queue: asyncio.Queue[Any], store: Any) -> None:
    while not queue.empty():
        item = queue.get_nowait()
        await store.save_state(item)
        await asyncio.sleep(0)


def wait_until_ready(probe: Any) -> None:
    while not probe.is_ready():  # sagacrew: allow SAGA-L004 local dev helper, not a saga
        time.sleep(0.1)
