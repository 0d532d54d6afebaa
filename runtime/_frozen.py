"""Frozen dataclasses whose ``__init__`` writes the instance's ``__dict__`` directly.

A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (the class's own ``__setattr__`` refuses), a call per field. The
records made at every saga transition (a step-log row has 16 fields, and a step makes two,
a transition record and an attempt's outcome) spent more time there than in anything
else they do. :func:`fast_init` gives such a class an ``__init__`` with the same
parameters, defaults and default factories that fills ``self.__dict__`` instead. The
instance is the same: still frozen (assigning a field raises ``FrozenInstanceError``),
equal, hashed and printed as before.

A ``slots`` class (no ``__dict__``) gets an ``__init__`` that sets each slot through its
descriptor's ``__set__``, bound once when the class is defined: still a call per field,
but about a third of the time of the ``object.__setattr__`` lookup and call (an envelope,
made for every command a step sends: 1.1 µs down to 0.5). Only frozen dataclasses
qualify (no ``__post_init__``, no keyword-only or ``init=False`` fields, no ``InitVar``);
anything else is refused when the class is defined. ``ClassVar`` attributes are not
fields, and are fine.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar, cast, dataclass_transform

T = TypeVar("T")


class _NoValue:
    """The default of a field with a default factory: no value was given."""


_NO_VALUE = _NoValue()


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen dataclass ``cls`` an ``__init__`` that writes ``__dict__`` (its
    slots, for a ``slots`` class: see the module docstring); use it above
    ``@dataclass(frozen=True)``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__}: fast_init takes a frozen dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: fast_init takes no __post_init__")
    slotted = "__slots__" in cls.__dict__
    fields = dataclasses.fields(cast(Any, cls))
    given = list(inspect.signature(cls.__init__).parameters)[1:]
    if given != [field.name for field in fields]:
        raise TypeError(f"{cls.__name__}: fast_init takes no InitVar and no init=False fields")
    scope: dict[str, Any] = {"_NO_VALUE": _NO_VALUE}
    signature: list[str] = []
    body = [] if slotted else ["    d = self.__dict__"]
    for field in fields:
        name = field.name
        if field.kw_only:
            raise TypeError(f"{cls.__name__}.{name}: fast_init takes no keyword-only fields")
        if field.default is not dataclasses.MISSING:
            scope[f"_default_{name}"] = field.default
            signature.append(f"{name}=_default_{name}")
        elif field.default_factory is not dataclasses.MISSING:
            scope[f"_factory_{name}"] = field.default_factory
            signature.append(f"{name}=_NO_VALUE")
            body.append(f"    if {name} is _NO_VALUE: {name} = _factory_{name}()")
        else:
            signature.append(name)
        if slotted:
            scope[f"_set_{name}"] = cls.__dict__[name].__set__
            body.append(f"    _set_{name}(self, {name})")
        else:
            body.append(f"    d[{name!r}] = {name}")
    lines = "\n".join(body or ["    pass"])
    source = f"def __init__(self, {', '.join(signature)}) -> None:\n{lines}"
    exec(source, scope)  # the source is built above from field names only
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[T]) -> type[T]:
    """A frozen dataclass built without a call per field: ``@dataclass(frozen=True)``, then
    :func:`fast_init` (the store's records, and what the engine makes at every step)."""
    return fast_init(dataclasses.dataclass(frozen=True)(cls))
