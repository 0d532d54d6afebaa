"""The supervision plan a generated system declares, and the actor supervisor spec it becomes.

A generated package describes its tree as data: :class:`SupervisorPlan` (OTP strategy,
restart intensity, backoff) with :class:`ChildPlan` actors (by address) and nested
supervisors. :func:`supervisor_spec` turns it into a fresh
:class:`~sagacrew.runtime.actors.SupervisorSpec`, binding every actor to its factory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from sagacrew.runtime.actors import Actor, Backoff, ChildSpec, SupervisorSpec

RestartType = Literal["permanent", "transient", "temporary"]


@dataclass(frozen=True)
class ChildPlan:
    """A supervised actor, by address, with OTP's restart type and shutdown timeout."""

    name: str
    restart: RestartType = "permanent"
    shutdown_s: float = 5.0


@dataclass(frozen=True)
class SupervisorPlan:
    """A supervisor of the generated tree; children are actors or nested supervisors."""

    name: str
    strategy: Literal["one_for_one", "one_for_all", "rest_for_one"]
    intensity: int
    period_s: float
    children: tuple[ChildPlan | SupervisorPlan, ...]
    backoff_min_s: float = 0.0
    backoff_max_s: float = 0.0


def supervisor_spec(
    plan: SupervisorPlan, factories: Mapping[str, Callable[[], Actor]]
) -> SupervisorSpec:
    """A fresh spec of ``plan``; each actor child starts from ``factories[<its name>]``."""
    children = []
    for child in plan.children:
        if isinstance(child, SupervisorPlan):
            children.append(ChildSpec(name=child.name, start=supervisor_spec(child, factories)))
        else:
            children.append(
                ChildSpec(
                    name=child.name,
                    start=factories[child.name],
                    restart=child.restart,
                    shutdown_s=child.shutdown_s,
                )
            )
    return SupervisorSpec(
        strategy=plan.strategy,
        intensity=plan.intensity,
        period_s=plan.period_s,
        children=tuple(children),
        backoff=Backoff(min_s=plan.backoff_min_s, max_s=plan.backoff_max_s, random_factor=0.2),
    )
