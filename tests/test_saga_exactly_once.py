"""A step whose handler acted but whose reply was lost (a timeout) is retried and acts once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.store import open_store


class SlowOnceService:
    """Acts on the first delivery of a key, then never answers it; answers redeliveries
    from its record, like an aggregate deduplicating by idempotency key."""

    def __init__(self) -> None:
        self.effects: dict[str, int] = {}
        self.replies: dict[str, dict[str, Any]] = {}
        self.keys_seen: list[str] = []

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        key = envelope.idempotency_key
        assert key is not None
        self.keys_seen.append(key)
        if key in self.replies:
            return self.replies[key]
        self.effects[envelope.name] = self.effects.get(envelope.name, 0) + 1
        self.replies[key] = {"done": envelope.name}
        # The reply is lost: the caller's ask times out, as SagaSystem.dispatch's
        # ``ref.ask(timeout_s=...)`` does (no real waiting here).
        raise TimeoutError(f"no reply to {envelope.name} within the ask timeout")


async def charge(ctx: StepContext) -> Mapping[str, Any]:
    return await ctx.send("billing", "charge", {"amount": 5})


async def refund(ctx: StepContext) -> Mapping[str, Any]:
    return await ctx.send("billing", "refund", {"amount": 5})


def test_a_retry_after_a_lost_reply_reuses_the_step_key_so_the_effect_happens_once(
    tmp_path: Path,
) -> None:
    service = SlowOnceService()
    saga = SagaDefinition(
        name="bill",
        steps=(
            SagaStep(
                name="charge",
                action=charge,
                compensation=refund,
                retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.001, jitter=0.0),
            ),
        ),
    )

    async def scenario() -> None:
        store = open_store(f"sqlite://{tmp_path / 'once.db'}")
        orchestrator = SagaOrchestrator(store, [saga], dispatch=service.dispatch)
        result = await orchestrator.run("bill", {})
        assert result.state == SagaState.COMPLETED
        attempts = [row.attempt for row in store.step_log(result.saga_id)]
        assert max(attempts) == 2  # attempt 1 timed out, attempt 2 got the recorded reply
        await orchestrator.close()
        store.close()

    asyncio.run(scenario())
    assert service.effects == {"charge": 1}
    assert len(set(service.keys_seen)) == 1 and len(service.keys_seen) == 2
