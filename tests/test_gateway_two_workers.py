"""Two workers' gateways to one real external system keep one ledger (the store they
share): a call and its undo handled by different workers end with the call acted and
undone, or never acted; no effect outlives its undo.

Each test lets the other worker write between one worker's read of the ledger and its
write: exactly the window that one process closes by answering a call's messages one at
a time, and two processes cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from typing import ClassVar

from async_helpers import async_test
from saga_fakes import external_call

from sagacrew.runtime import Envelope
from sagacrew.runtime import GatewayOperation
from sagacrew.runtime import SandboxGateway
from sagacrew.runtime import open_store
from sagacrew.runtime.actors import ActorSystem
from sagacrew.runtime.store import ExternalCall
from sagacrew.runtime.store import Store

KEY = "saga-1:0:forward"


class Jobs(SandboxGateway):
    """A real system (``perform`` overridden): what it was asked to do is in ``done``."""

    system = "cluster"
    operations: ClassVar[dict[str, GatewayOperation]] = {
        "start_job": GatewayOperation(),
        "cancel_job": GatewayOperation(undoes="start_job"),
    }
    done: ClassVar[list[str]] = []

    async def perform(
        self, name: str, operation: GatewayOperation, message: Envelope
    ) -> dict[str, Any]:
        type(self).done.append(name)
        if operation.undoes is not None:
            return {"resource_id": str(message.payload["resource_id"]), "status": "undone"}
        return {"resource_id": "job-1", "status": "done"}


class MeanwhileStore:
    """A store whose first read of ``KEY``'s ledger row comes just before the other worker
    writes ``row``: the read misses it, every later statement sees it."""

    def __init__(self, store: Store, other: Store, row: ExternalCall) -> None:
        self._store, self._other, self._row = store, other, row
        self._written = False

    def get_external_call(self, key: str) -> ExternalCall | None:
        found = self._store.get_external_call(key)
        if key == KEY and not self._written:
            self._written = True
            assert self._other.record_external_call(self._row)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def row(status: str) -> ExternalCall:
    """``KEY``'s ledger row as the other worker writes it."""
    resource_id = "job-1" if status == "done" else "none"
    response = {"resource_id": resource_id, "status": status}
    return external_call(
        KEY, status, system="cluster", operation="start_job", resource_id=resource_id,
        response=response, correlation_id="saga-1",
    )  # fmt: skip


async def no_delivery(name: str, correlation_id: str, payload: Any) -> bool:
    return False


async def ask(store: Any, message: Envelope, gateway: type[Jobs] = Jobs) -> Any:
    Jobs.done = []
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: gateway(store, no_delivery), "cluster")
        return await ref.ask(message, timeout_s=5)


def stores(tmp_path: Path) -> tuple[Store, Store]:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    return open_store(url), open_store(url)


@async_test
async def test_a_call_arriving_after_another_workers_undo_does_not_act(tmp_path: Path) -> None:
    here, other = stores(tmp_path)
    tombstoned = MeanwhileStore(here, other, row("cancelled"))
    answer = await ask(tombstoned, Envelope("start_job", {}, "saga-1", None, "m-1", KEY))
    assert answer["status"] == "cancelled", answer
    assert Jobs.done == [], "the system was never asked"
    call = here.get_external_call(KEY)
    assert call is not None and call.status == "cancelled"


@async_test
async def test_an_undo_finding_the_call_recorded_meanwhile_undoes_it(tmp_path: Path) -> None:
    here, other = stores(tmp_path)
    acted = MeanwhileStore(here, other, row("done"))
    undo = Envelope("cancel_job", {"undoes": KEY, "resource_id": ""}, "saga-1", None, "m-2",
                    "saga-1:0:compensation")  # fmt: skip
    answer = await ask(acted, undo)
    assert answer["status"] == "undone", answer
    assert Jobs.done == ["cancel_job"]
    call = here.get_external_call(KEY)
    assert call is not None and call.status == "undone"


@async_test
async def test_a_call_s_result_leaves_the_cancel_another_worker_made_meanwhile(
    tmp_path: Path,
) -> None:
    here, other = stores(tmp_path)

    class CancelledWhileRunning(Jobs):
        """While the system works on the call, the other worker's undo cancels it."""

        async def perform(
            self, name: str, operation: GatewayOperation, message: Envelope
        ) -> dict[str, Any]:
            answer = await super().perform(name, operation, message)
            other.update_external_call(KEY, status="cancelled", updated_at=2.0)
            return answer

    answer = await ask(here, Envelope("start_job", {}, "saga-1", None, "m-1", KEY),
                       CancelledWhileRunning)  # fmt: skip
    assert answer["status"] != "done", answer
    call = here.get_external_call(KEY)
    assert call is not None and call.status == "cancelled"
