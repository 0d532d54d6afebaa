"""SAGA-L003 samples against taxonomy.json: the seed's ``ml.run.complete`` (DRIFT-003)."""

from typing import Any


def finish_run(bus: Any, run_id: str, correlation_id: str, causation_id: str) -> None:
    bus.publish(
        "ml.run.complete",
        {"run_id": run_id},
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


def start_run(bus: Any, run_id: str, attempt: int, correlation_id: str, causation_id: str) -> None:
    bus.publish(
        "ml.run.started",
        {"run_id": run_id, "attempt": attempt},
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


class TrainStep:
    completion_event = "ml.training.finished"


def wait_for_training(step: Any) -> Any:
    return step.configure(completion_event="ml.run.completed", timeout_s=300.0)


def record(stream: list[Any]) -> None:
    stream.append(("ml.run.complete", {"run_id": "r-1"}))
    stream.append("not.an.event.name.at.all")
    stream.append("orders.approved")


def describe() -> dict[str, str]:
    return {"event_type": "user.onboarding.complete", "note": "sales.lead.created"}
