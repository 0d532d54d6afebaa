"""Rules for aggregates and their commands, checked after each aggregate validates.

An aggregate's ``identity`` is one of its fields; a command's ``params``, ``sets`` and
``quantity_field`` name its fields (a ``query``'s params are inputs to its check, so may
name anything), and so do the keys of ``initial``; ``sets`` and ``initial`` values fit the
field's type; ``reserve``/``release`` need an int ``quantity_field``, and a ``reserve``
needs a ``release`` on the same field (its compensation); no command has kind
``external``; explicit events are past tense; invariants and ``rejects_when`` compile.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sagacrew.agents.spec.catalog import AggregateEntry, Catalog
from sagacrew.agents.spec.errors import ExpressionError
from sagacrew.agents.spec.event_names import event_name_problems
from sagacrew.agents.spec.expression_types import check_types
from sagacrew.agents.spec.expressions import compile_expression
from sagacrew.agents.spec.model import Aggregate, Command, CommandKind
from sagacrew.agents.spec.naming import is_past_tense, past_tense_of, suggestion
from sagacrew.agents.spec.violation import Path, Violation, duplicate_name

__all__ = ["RESERVE_AMOUNT_PARAM", "check_aggregates", "expression_params"]

RESERVE_AMOUNT_PARAM = "amount"
"""The implicit parameter of ``reserve``/``release``: how much to take or give back."""

_KINDS_WITHOUT_EXTERNAL = "create, update, delete, reserve, release, query"
_SETTABLE: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


def expression_params(aggregate: Aggregate, command: Command) -> list[str]:
    """The parameter names a command's ``rejects_when`` may use.

    ``params`` as written; without ``params``: for ``create`` every field except the
    identity and those in ``sets``, none otherwise. ``reserve``/``release`` also take
    ``amount``.
    """
    names = aggregate.command_params(command)
    if command.kind in (CommandKind.RESERVE, CommandKind.RELEASE):
        names.append(RESERVE_AMOUNT_PARAM)
    return names


def check_aggregates(catalog: Catalog) -> list[Violation]:
    """Every aggregate-level problem of the catalog's valid aggregates."""
    violations: list[Violation] = []
    elsewhere: dict[str, str] = {}
    for entry in catalog.aggregates.values():
        for name, kind in entry.model.fields.items() if entry.model is not None else ():
            elsewhere.setdefault(name, kind)
    for entry in catalog.aggregates.values():
        if entry.model is not None:
            violations.extend(_aggregate(entry, entry.model, elsewhere))
    return violations


def _aggregate(
    entry: AggregateEntry, aggregate: Aggregate, elsewhere: Mapping[str, str]
) -> Iterator[Violation]:
    """``elsewhere``: every aggregate's field types, for parameters named like a field."""
    base = entry.path
    fields = aggregate.fields
    if aggregate.identity and aggregate.identity not in fields:
        yield Violation(
            (*base, "identity"),
            f"identity '{aggregate.identity}' is not a field of aggregate '{entry.name}'",
            _field_fix(aggregate.identity, fields, "str"),
        )
    for field_name, value in aggregate.initial.items():
        yield from _assigned((*base, "initial", field_name), field_name, value, fields, "initial")
    seen_invariants: set[str] = set()
    for index, invariant in enumerate(aggregate.invariants):
        path: Path = (*base, "invariants", index)
        yield from duplicate_name(
            seen_invariants,
            invariant.name,
            path,
            "invariant",
            "give each invariant of an aggregate its own name",
        )
        yield from _expression((*path, "check"), invariant.check, dict(fields), {})
    for name, command in aggregate.commands.items():
        path = (*base, "commands", name)
        yield from _command(path, name, command, entry, aggregate, elsewhere)


def _command(
    base: Path,
    name: str,
    command: Command,
    entry: AggregateEntry,
    aggregate: Aggregate,
    elsewhere: Mapping[str, str],
) -> Iterator[Violation]:
    fields = aggregate.fields
    if command.kind is CommandKind.EXTERNAL:
        yield Violation(
            (*base, "kind"),
            f"command '{name}' has kind external, which is only for saga steps that invoke "
            "an external operation",
            f"use one of {_KINDS_WITHOUT_EXTERNAL}, or declare it under `externals:` and "
            "invoke it as `system.operation`",
        )
    if command.params is not None and command.kind is not CommandKind.QUERY:
        for index, param in enumerate(command.params):
            if (
                param not in fields
                and not _is_amount(command, param)
                and not _moves_by(command, param)
            ):
                yield Violation(
                    (*base, "params", index),
                    f"param '{param}' of command '{name}' is not a field of aggregate "
                    f"'{entry.name}'",
                    _field_fix(param, fields, "str"),
                )
    for field_name, value in command.sets.items():
        yield from _assigned((*base, "sets", field_name), field_name, value, fields, "sets")
    yield from _quantity(base, name, command, entry, aggregate)
    yield from _delta(base, name, command, aggregate)
    if command.event is not None and "." in command.event:
        yield from event_name_problems((*base, "event"), "event", command.event)
    elif command.event is not None and not is_past_tense(command.event):
        yield Violation(
            (*base, "event"),
            f"event '{command.event}' is not a past-tense verb",
            f"name what happened, e.g. `event: {past_tense_of(command.event)}`",
        )
    if command.rejects_when is not None:
        params = {
            param: aggregate.param_type(command, param, elsewhere)
            for param in expression_params(aggregate, command)
        }
        yield from _expression((*base, "rejects_when"), command.rejects_when, dict(fields), params)
    yield from _history(base, name, command)


def _history(base: Path, name: str, command: Command) -> Iterator[Violation]:
    """``event_history`` holds one change per earlier version: 1 .. event_version - 1."""
    wanted = list(range(1, command.event_version))
    found = [change.from_version for change in command.event_history]
    if sorted(found) != wanted:
        path = (*base, "event_history") if command.event_history else (*base, "event_version")
        listed = ", ".join(str(v) for v in wanted) or "none"
        yield Violation(
            path,
            f"command '{name}' emits event version {command.event_version} but its "
            f"event_history covers versions {sorted(found) or 'none'}",
            f"give one `event_history` entry per earlier version ({listed}), each saying what "
            "was renamed, added or removed, or lower `event_version`",
        )


def _assigned(
    path: Path,
    field_name: str,
    value: str | int | float | bool,
    fields: Mapping[str, str],
    where: str,
) -> Iterator[Violation]:
    """Check one entry of ``sets`` or ``initial``: a known field and a value of its type."""
    if field_name not in fields:
        yield Violation(
            path,
            f"`{where}` names '{field_name}', which is not a field of the aggregate",
            _field_fix(field_name, fields, _type_name(value)),
            at_key=True,
        )
        return
    field_type = fields[field_name]
    allowed = _SETTABLE.get(field_type)
    if allowed is None:
        yield Violation(
            path,
            f"field '{field_name}' is a {field_type}, which `{where}` cannot assign",
            "set only str, int, float or bool fields",
        )
        return
    fits = isinstance(value, allowed) and not (isinstance(value, bool) and field_type != "bool")
    if not fits:
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
        fix = f"write a {field_type} value"
        if field_type == "str" and isinstance(value, bool):
            fix = (
                "quote the value (YAML reads unquoted yes, no, on, off, true and false as "
                f"booleans), e.g. `{field_name}: 'yes'`"
            )
        elif field_type == "str":
            fix = f"quote it: `{field_name}: '{shown}'`"
        yield Violation(
            path,
            f"'{field_name}' is a {field_type} field but is set to {shown} ({_type_name(value)})",
            fix,
        )


def _quantity(
    base: Path, name: str, command: Command, entry: AggregateEntry, aggregate: Aggregate
) -> Iterator[Violation]:
    fields = aggregate.fields
    int_fields = [field for field, kind in fields.items() if kind == "int"]
    example = int_fields[0] if int_fields else "available"
    moves = command.kind in (CommandKind.RESERVE, CommandKind.RELEASE)
    quantity = command.quantity_field
    if moves and quantity is None:
        yield Violation(
            (*base, "kind"),
            f"{command.kind.value} command '{name}' needs `quantity_field`",
            f"add `quantity_field: {example}` naming the int field it "
            f"{'decrements' if command.kind is CommandKind.RESERVE else 'increments'}",
        )
    if quantity is not None and not moves:
        yield Violation(
            (*base, "quantity_field"),
            "quantity_field only applies to reserve and release commands, "
            f"not {command.kind.value}",
            "remove `quantity_field`, or make the command `kind: reserve` or `kind: release`",
        )
    elif quantity is not None and quantity not in fields:
        yield Violation(
            (*base, "quantity_field"),
            f"quantity_field '{quantity}' is not a field of aggregate '{entry.name}'",
            _field_fix(quantity, fields, "int"),
        )
    elif quantity is not None and fields[quantity] != "int":
        yield Violation(
            (*base, "quantity_field"),
            f"quantity_field '{quantity}' is a {fields[quantity]} field, not an int",
            f"declare it as `{quantity}: int` or name an int field",
        )
    if command.kind is CommandKind.RESERVE and quantity is not None and entry.complete:
        releases = [
            other.quantity_field
            for other in aggregate.commands.values()
            if other.kind is CommandKind.RELEASE
        ]
        if quantity not in releases:
            yield Violation(
                (*base, "kind"),
                f"reserve command '{name}' has no release command on '{quantity}' to compensate it",
                f"add a command, e.g. `release_{quantity}: {{kind: release, "
                f"quantity_field: {quantity}}}`",
            )


def _delta(base: Path, name: str, command: Command, aggregate: Aggregate) -> Iterator[Violation]:
    """``delta`` is for ``update`` commands: numeric fields, moved by a parameter of the
    command (``-amount``, ``+amount``, ``amount``) or a number; not also in ``sets``."""
    if command.delta and command.kind is not CommandKind.UPDATE:
        yield Violation(
            (*base, "delta"),
            f"`delta` only applies to update commands, not {command.kind.value}",
            "make the command `kind: update`, or use `sets:` for a value",
        )
        return
    fields = aggregate.fields
    params = aggregate.command_params(command)
    for field_name, change in command.delta.items():
        path: Path = (*base, "delta", field_name)
        if field_name not in fields:
            yield Violation(
                path,
                f"`delta` names '{field_name}', which is not a field of the aggregate",
                _field_fix(field_name, fields, "int"),
                at_key=True,
            )
            continue
        if fields[field_name] not in ("int", "float"):
            yield Violation(
                path,
                f"`delta` moves '{field_name}', a {fields[field_name]} field; only int and "
                "float fields can move",
                f"use `sets: {{{field_name}: ...}}` for a {fields[field_name]} value",
                at_key=True,
            )
        if field_name in command.sets or field_name in params:
            yield Violation(
                path,
                f"'{field_name}' is both moved by `delta` and assigned by "
                f"`{'sets' if field_name in command.sets else 'params'}` in command '{name}'",
                "keep it in `delta` only: the change is applied to the current value",
                at_key=True,
            )
        if isinstance(change, bool):
            yield Violation(path, f"`delta` of '{field_name}' is a bool", "write a number")
        elif isinstance(change, str) and change.lstrip("+-") not in params:
            param = change.lstrip("+-")
            yield Violation(
                path,
                f"`delta` of '{field_name}' uses '{param}', which is not a param of command "
                f"'{name}'",
                f"add it: `params: [{', '.join([*params, param])}]`",
            )
        elif isinstance(change, float) and fields[field_name] == "int" and not change.is_integer():
            yield Violation(
                path, f"'{field_name}' is an int field but moves by {change}", "write an int"
            )


def _expression(
    path: Path, expression: str, fields: dict[str, str], params: dict[str, str | None]
) -> Iterator[Violation]:
    """The expression compiles over ``fields`` (state) and ``params``, and combines
    values of matching types (``None``: a parameter nobody typed)."""
    try:
        compile_expression(expression, state_fields=list(fields), params=list(params))
        check_types(expression, {**fields, **params})
    except ExpressionError as error:
        yield Violation(path, f"in `{expression}`: {error.message}", error.fix, offset=error.offset)


def _field_fix(name: str, fields: Mapping[str, str], field_type: str) -> str:
    add = f"add `{name}: {field_type}` under the aggregate's `fields:`"
    if not fields:
        return add
    hint = suggestion(name, fields)
    if hint.startswith("did you mean"):
        return hint
    return f"{add}, or {hint}"


def _moves_by(command: Command, param: str) -> bool:
    """True when ``param`` is the amount a ``delta`` entry moves a field by."""
    return any(
        isinstance(change, str) and change.lstrip("+-") == param
        for change in command.delta.values()
    )


def _is_amount(command: Command, param: str) -> bool:
    moves = command.kind in (CommandKind.RESERVE, CommandKind.RELEASE)
    return moves and param == RESERVE_AMOUNT_PARAM


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    return str(type(value).__name__)
