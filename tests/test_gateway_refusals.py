"""External systems can say no: a gateway's ``perform`` raises ``GatewayRefusal``.

The generated order_fulfilment system runs with a payment gateway that declines cards
over a limit. A refusal is a business failure of the step (the saga compensates its done
steps, in reverse), never a crash of the gateway actor (no restart, so no growing
backoff that makes later, valid sagas time out), and it is recorded ``refused`` in the
ledger: a redelivered call is refused again without ``perform`` being called, and an undo
of it does nothing. Any other exception from ``perform`` is still a transient failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any
from typing import ClassVar

import pytest

from sagacrew.runtime import Envelope
from sagacrew.runtime import GatewayOperation
from sagacrew.runtime import GatewayRefusal
from sagacrew.runtime import SagaResult
from sagacrew.runtime import SagaState
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import SandboxGateway
from sagacrew.runtime import StepFailed
from sagacrew.runtime import SystemDefinition
from sagacrew.runtime import load_system
from sagacrew.runtime.externals import NOTHING_TO_UNDO
from sagacrew.runtime.externals import REFUSED

SYSTEM_DIR = Path(__file__).resolve().parent.parent / "generated" / "order_fulfilment"
LOADED = load_system(SYSTEM_DIR)
BUILD: SystemDefinition = LOADED.package.build_system
PAYMENT_GATEWAY: type[SandboxGateway] = LOADED.package.GATEWAYS[0]
AUTHORIZE = 3
"""Index of the ``authorize_card`` step (the pivot) in ``create_order``."""
LIMIT_CENTS = 5_000


class Counting(SandboxGateway):
    """A gateway that counts its starts (a restart is a start) and its ``perform`` calls."""

    starts: ClassVar[int]
    performed: ClassVar[list[tuple[str, str]]]

    async def pre_start(self) -> None:
        type(self).starts += 1
        await super().pre_start()

    async def perform(
        self, name: str, operation: GatewayOperation, message: Envelope
    ) -> dict[str, Any]:
        type(self).performed.append((name, str(message.idempotency_key)))
        return await super().perform(name, operation, message)


def gateway(*, fail_first: int = 0, refuse_undo: bool = False) -> type[Counting]:
    """A fresh subclass of the generated payment gateway (its own counters): it declines
    cards over ``LIMIT_CENTS``, or raises ``ConnectionError`` on its first ``fail_first``
    authorisations, or refuses every void (``refuse_undo``)."""
    failures = [fail_first]

    class Declining(Counting, PAYMENT_GATEWAY):  # type: ignore[misc,valid-type]
        starts = 0
        performed: ClassVar[list[tuple[str, str]]] = []

        async def perform(
            self, name: str, operation: GatewayOperation, message: Envelope
        ) -> dict[str, Any]:
            if operation.undoes is None:
                if int(message.payload["total_cents"]) > LIMIT_CENTS:
                    type(self).performed.append((name, str(message.idempotency_key)))
                    raise GatewayRefusal("card declined")
                if failures[0] > 0:
                    failures[0] -= 1
                    type(self).performed.append((name, str(message.idempotency_key)))
                    raise ConnectionError("card processor unreachable")
            elif refuse_undo:
                type(self).performed.append((name, str(message.idempotency_key)))
                raise GatewayRefusal("authorisation already settled")
            return await super().perform(name, operation, message)

    return Declining


def system_with(cls: type[SandboxGateway], store_url: str) -> SagaSystem:
    return dataclasses.replace(BUILD, gateways=(cls,))(store_url)


def void(correlation_id: str, undoes: str, key: str) -> Envelope:
    """A ``void_authorization`` undoing the call keyed ``undoes``, sent under ``key``."""
    payload = {"undoes": undoes, "resource_id": ""}
    return Envelope("void_authorization", payload, correlation_id, "undo", idempotency_key=key)


def order(index: int, total_cents: int) -> dict[str, Any]:
    return {
        "order_id": f"O-{index}",
        "consumer_id": f"C-{index}",
        "ticket_id": f"T-{index}",
        "total_cents": total_cents,
    }


def test_a_refusal_compensates_the_done_steps_and_never_restarts_the_gateway(
    store_url: str,
) -> None:
    cls = gateway()

    async def go() -> tuple[SagaResult, SagaSystem]:
        async with system_with(cls, store_url) as system:
            result = await system.run_saga("create_order", order(1, 9_000))
            restarts = system.actors.restarts
        assert restarts == 0
        return result, system

    result, system = asyncio.run(go())
    assert result.state == SagaState.COMPENSATED
    assert result.error is not None and "card declined" in result.error
    assert cls.starts == 1, "the gateway actor was restarted"

    log = system.store.step_log(result.saga_id)
    authorize = [e for e in log if e.step_name == "authorize_card" and e.status == "failed"]
    assert [(e.attempt, dict(e.result or {})) for e in authorize] == [
        (1, {"outcome": "refused"})
    ], "a refusal is not retried"
    undone = [e.step_name for e in log if e.phase == "compensation" and e.status == "succeeded"]
    assert undone == ["create_ticket", "create_order"]

    key = f"{result.saga_id}:{AUTHORIZE}:forward"
    call = system.store.get_external_call(key)
    assert call is not None
    assert call.status == REFUSED
    assert call.response["reason"] == "card declined"
    assert cls.performed == [("authorize_card", key)]
    system.store.close()


def test_a_redelivered_refused_call_is_refused_again_and_its_undo_does_nothing(
    sqlite_url: str,
) -> None:
    cls = gateway()

    async def go() -> None:
        async with system_with(cls, sqlite_url) as system:
            result = await system.run_saga("create_order", order(2, 9_000))
            assert result.state == SagaState.COMPENSATED
            key = f"{result.saga_id}:{AUTHORIZE}:forward"
            saga = system.store.get_saga(result.saga_id)
            assert saga is not None
            call = Envelope(
                "authorize_card",
                {"consumer_id": "C-2", "total_cents": 9_000},
                saga.correlation_id,
                "redelivery",
                idempotency_key=key,
            )
            for _ in range(3):
                with pytest.raises(StepFailed) as refused:
                    await system.dispatch("payment_gateway", call)
                assert not refused.value.retriable
                assert "card declined" in refused.value.reason
            undo = void(saga.correlation_id, key, f"{result.saga_id}:{AUTHORIZE}:compensation")
            reply = await system.dispatch("payment_gateway", undo)
            assert reply["status"] == NOTHING_TO_UNDO
            assert system.actors.restarts == 0
            ledger = system.store.get_external_call(key)
            assert ledger is not None and ledger.status == REFUSED
            assert cls.performed == [("authorize_card", key)], "perform was called again"

    asyncio.run(go())
    assert cls.starts == 1


def test_refusals_across_twenty_sagas_never_make_a_valid_saga_time_out(sqlite_url: str) -> None:
    cls = gateway()

    async def go() -> tuple[list[SagaResult], list[SagaResult], int]:
        async with system_with(cls, sqlite_url) as system:
            refused, valid = [], []
            for index in range(20):
                refused.append(await system.run_saga("create_order", order(index, 9_000)))
                valid.append(await system.run_saga("create_order", order(100 + index, 3_000)))
            mixed = await asyncio.gather(
                *(
                    system.run_saga("create_order", order(200 + i, 9_000 if i % 2 else 3_000))
                    for i in range(20)
                )
            )
            refused += mixed[1::2]
            valid += mixed[0::2]
            return refused, valid, system.actors.restarts

    refused, valid, restarts = asyncio.run(go())
    assert [r.state for r in valid] == [SagaState.COMPLETED] * 30
    assert [r.state for r in refused] == [SagaState.COMPENSATED] * 30
    assert all("card declined" in str(r.error) for r in refused)
    assert restarts == 0
    assert cls.starts == 1


def test_any_other_exception_from_perform_is_still_a_transient_failure(sqlite_url: str) -> None:
    cls = gateway(fail_first=1)

    async def go() -> SagaResult:
        async with system_with(cls, sqlite_url) as system:
            result = await system.run_saga("create_order", order(3, 3_000))
            attempts = [
                (e.attempt, e.status)
                for e in system.store.step_log(result.saga_id)
                if e.step_name == "authorize_card" and e.status in ("failed", "succeeded")
            ]
            assert attempts == [(1, "failed"), (2, "succeeded")]
            key = f"{result.saga_id}:{AUTHORIZE}:forward"
            call = system.store.get_external_call(key)
            assert call is not None and call.status == "done"
            return result

    assert asyncio.run(go()).state == SagaState.COMPLETED


def test_a_refused_undo_is_answered_as_a_refusal_but_not_recorded(sqlite_url: str) -> None:
    cls = gateway(refuse_undo=True)

    async def go() -> None:
        async with system_with(cls, sqlite_url) as system:
            result = await system.run_saga("create_order", order(4, 3_000))
            assert result.state == SagaState.COMPLETED
            saga = system.store.get_saga(result.saga_id)
            assert saga is not None
            key = f"{result.saga_id}:{AUTHORIZE}:undo-by-hand"
            undo = void(saga.correlation_id, f"{result.saga_id}:{AUTHORIZE}:forward", key)
            for _ in range(2):
                with pytest.raises(StepFailed) as refused:
                    await system.dispatch("payment_gateway", undo)
                assert not refused.value.retriable
            assert system.store.get_external_call(key) is None
            assert [name for name, _ in cls.performed] == [
                "authorize_card",
                "void_authorization",
                "void_authorization",
            ], "a refused undo asks the system again"
            assert system.actors.restarts == 0

    asyncio.run(go())
