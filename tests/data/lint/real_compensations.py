"""SAGA-L001 negatives: compensations that undo, interfaces, and handlers doing work."""

import abc
import logging
from typing import Any
from typing import Protocol

logger = logging.getLogger(__name__)


def compensate_dispatch_training(jobs: list[Any], bridge: Any) -> dict[str, int]:
    """Cancel every training job the forward step dispatched."""
    logger.info("cancelling %d training jobs", len(jobs))
    for job in jobs:
        bridge.cancel(job["job_id"])
    return {"cancelled": len(jobs)}


def release_stock(reservation: Any, inventory: Any) -> None:
    inventory.release(reservation.sku, reservation.amount)


def undo_payment(payment: Any) -> None:
    raise RuntimeError(f"payment {payment} cannot be refunded automatically")


def on_ticket_created(state: dict[str, Any], event: Any) -> dict[str, Any]:
    return {**state, "status": "created", "ticket_id": event.ticket_id}


class Releasable(Protocol):
    def release(self, amount: int) -> None: ...


class Compensator(abc.ABC):
    @abc.abstractmethod
    def compensate(self, result: Any) -> None:
        """Undo the step whose result is given."""


def handle_request(request: Any) -> str:
    return str(request.path)
