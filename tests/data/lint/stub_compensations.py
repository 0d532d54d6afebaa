"""SAGA-L001 positives: compensations and handlers that only log or return a constant.

Python translations of the seed's stubbed compensations (GAP-001, GAP-002, GAP-003).
"""

import logging
from typing import Any

logger = logging.getLogger(__name__)


def compensate_dispatch_training(jobs: Any, context: Any) -> Any:
    # TODO: Cancel in-flight training jobs
    logger.warning("Compensating: canceling training jobs")
    return {"ok": True, "status": "compensated"}


def rollback_adapter_sync(adapters: Any, context: Any) -> Any:
    """Restore previous adapter configurations."""
    # TODO: Restore previous adapter configurations
    logger.warning("Compensating: adapter sync rollback")
    return adapters


async def cancel_training_job(job_id: str) -> None:
    print("would cancel", job_id)


def remove_membership(membership: Any, context: Any) -> None:
    pass


def on_ticket_created(state: Any, event: Any) -> None: ...


class SagaStep:
    def __init__(self, name: str, action: Any, compensation: Any) -> None:
        self.name = name
        self.action = action
        self.compensation = compensation


def create_membership(context: Any) -> Any:
    return context.community.add_member(context.user_id)


STEPS = [
    SagaStep("create_membership", create_membership, compensation=remove_membership),
    SagaStep("send_welcome", create_membership, compensation=lambda *_: None),
]
