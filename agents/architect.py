"""Actor Architect: actor catalog, state schemas, handlers and the supervision tree.

One actor type per aggregate (an entity region holding every instance of the aggregate,
state rebuilt from its event stream, starting from the spec's ``initial`` state) and one
gateway actor per external system (each operation that undoes another records which). The
supervision tree follows the spec's context dependencies, OTP-style:

- root: ``rest_for_one`` over the contexts in dependency order when any context depends
  on another (a restarted context restarts the contexts started after it, which depend
  on it), else ``one_for_one``;
- one supervisor per context: ``one_for_one`` (aggregates are independent consistency
  boundaries), ``permanent`` children (their state lives in the event store, so a
  restart loses nothing);
- one supervisor for the external gateways: ``one_for_one`` with a longer backoff, so an
  outage of one external system is not hammered and does not touch the others.
"""

from __future__ import annotations

import networkx as nx

from sagacrew.agents.blueprint import (
    ActorPart,
    ActorSpec,
    Blueprint,
    ChildSpec,
    Handler,
    InvariantRule,
    SupervisorSpec,
)
from sagacrew.agents.naming import actor_address, pascal
from sagacrew.agents.spec import compile_expression
from sagacrew.agents.spec.catalog import event_name
from sagacrew.agents.spec.model import Aggregate, CommandKind, DomainSpec, ExternalSystem

EXTERNALS_SUPERVISOR = "externals"


class ActorArchitect:
    """Turns the spec's aggregates and external systems into actors and their supervisors."""

    def contribute(self, spec: DomainSpec, blueprint: Blueprint) -> ActorPart:
        actors = [
            self._aggregate_actor(context_name, aggregate_name, aggregate)
            for context_name, context in spec.contexts.items()
            for aggregate_name, aggregate in context.aggregates.items()
        ]
        actors += [self._gateway_actor(name, system) for name, system in spec.externals.items()]
        return ActorPart(actors=actors, supervisors=self._supervisors(spec))

    def _gateway_actor(self, name: str, system: ExternalSystem) -> ActorSpec:
        undone = _undone_by(system)
        return ActorSpec(
            name=name,
            class_name=_gateway_class(name),
            kind="gateway",
            context=None,
            aggregate=None,
            identity=None,
            fields={},
            handlers=[
                Handler(
                    command=operation_name,
                    kind=CommandKind.EXTERNAL,
                    params=list(operation.params),
                    sets={},
                    quantity_field=None,
                    rejects_when=None,
                    event=operation.completion_event,
                    description=operation.description,
                    undoes=undone.get(operation_name),
                )
                for operation_name, operation in system.operations.items()
            ],
            invariants=[],
            description=system.description or f"Gateway to the external system {name}.",
        )

    def _aggregate_actor(self, context: str, name: str, aggregate: Aggregate) -> ActorSpec:
        return ActorSpec(
            name=actor_address(context, name),
            class_name=pascal(name) + "Actor",
            kind="aggregate",
            context=context,
            aggregate=name,
            identity=aggregate.identity,
            fields=dict(aggregate.fields),
            handlers=_aggregate_handlers(context, name, aggregate),
            invariants=_invariant_rules(aggregate),
            description=aggregate.description or f"The {name} aggregate of the {context} context.",
            when_locked=aggregate.when_locked,
            lock_timeout_s=aggregate.lock_timeout_s,
            initial=dict(aggregate.initial),
        )

    def _supervisors(self, spec: DomainSpec) -> list[SupervisorSpec]:
        graph: nx.DiGraph[str] = nx.DiGraph()
        for context_name, context in spec.contexts.items():
            graph.add_node(context_name)
            for dependency in context.depends_on:
                graph.add_edge(dependency, context_name)
        order = list(nx.lexicographical_topological_sort(graph, key=list(spec.contexts).index))
        has_dependencies = graph.number_of_edges() > 0
        root_children = [
            ChildSpec(name=name, restart="permanent", shutdown_s=10.0, is_supervisor=True)
            for name in order
        ]
        if spec.externals:
            root_children.append(
                ChildSpec(
                    name=EXTERNALS_SUPERVISOR,
                    restart="permanent",
                    shutdown_s=10.0,
                    is_supervisor=True,
                )
            )
        root = SupervisorSpec(
            name="root",
            strategy="rest_for_one" if has_dependencies else "one_for_one",
            intensity=3,
            period_s=30.0,
            backoff_min_s=0.0,
            backoff_max_s=0.0,
            children=root_children,
            rationale=(
                "rest_for_one: contexts start in dependency order ("
                + " → ".join(order)
                + "), so a restarted context also restarts the contexts that depend on it"
                if has_dependencies
                else "one_for_one: no context depends on another, so each restarts alone"
            ),
        )
        supervisors = [root]
        for context_name in order:
            aggregates = spec.contexts[context_name].aggregates
            critical = any(a.criticality == "high" for a in aggregates.values())
            supervisors.append(
                SupervisorSpec(
                    name=context_name,
                    strategy="one_for_one",
                    intensity=5 if critical else 3,
                    period_s=10.0,
                    backoff_min_s=0.01,
                    backoff_max_s=1.0,
                    children=[
                        ChildSpec(
                            name=actor_address(context_name, name),
                            restart="permanent",
                            shutdown_s=5.0,
                        )
                        for name in aggregates
                    ],
                    rationale=(
                        "one_for_one: each aggregate is its own consistency boundary; permanent "
                        "children, since state is rebuilt from the event store on restart"
                        + ("; intensity 5 for a high-criticality aggregate" if critical else "")
                    ),
                )
            )
        if spec.externals:
            supervisors.append(
                SupervisorSpec(
                    name=EXTERNALS_SUPERVISOR,
                    strategy="one_for_one",
                    intensity=10,
                    period_s=60.0,
                    backoff_min_s=0.1,
                    backoff_max_s=5.0,
                    children=[
                        ChildSpec(name=name, restart="permanent", shutdown_s=5.0)
                        for name in spec.externals
                    ],
                    rationale=(
                        "one_for_one with backoff: an outage of one external system is retried "
                        "with growing delays and never restarts the others"
                    ),
                )
            )
        return supervisors


def _undone_by(system: ExternalSystem) -> dict[str, str]:
    """Each undo operation of ``system`` → the operation it undoes (the last one naming it)."""
    return {op.undo: name for name, op in system.operations.items() if op.undo}


def _gateway_class(system: str) -> str:
    """``payment_gateway`` → ``PaymentGateway``; ``mailer`` → ``MailerGateway``."""
    name = pascal(system)
    return name if name.endswith("Gateway") else name + "Gateway"


def _aggregate_handlers(context: str, name: str, aggregate: Aggregate) -> list[Handler]:
    """One handler per command of the aggregate ``name`` of ``context``, its refusal
    condition compiled to Python over the state and the command's parameters."""
    state_fields = list(aggregate.fields)
    handlers = []
    for command_name, command in aggregate.commands.items():
        params = aggregate.command_params(command)
        rejects = None
        if command.rejects_when:
            rejects = compile_expression(
                command.rejects_when,
                state_fields=state_fields,
                params=[*params, *(["amount"] if command.quantity_field else [])],
            )
        handlers.append(
            Handler(
                command=command_name,
                kind=command.kind,
                params=params,
                sets=dict(command.sets),
                delta=dict(command.delta),
                quantity_field=command.quantity_field,
                rejects_when=rejects,
                event=event_name(context, name, command),
                description=command.description,
            )
        )
    return handlers


def _invariant_rules(aggregate: Aggregate) -> list[InvariantRule]:
    """The aggregate's invariants, each check compiled to Python over the state."""
    return [
        InvariantRule(
            name=rule.name,
            check=rule.check,
            python=compile_expression(rule.check, state_fields=list(aggregate.fields)),
            description=rule.description,
        )
        for rule in aggregate.invariants
    ]
