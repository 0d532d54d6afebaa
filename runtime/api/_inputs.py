"""What the API accepts as ids and as a saga's input, checked before the store is touched.

The rules are the API's, not a backend's, so SQLite and PostgreSQL answer the same:

- text ids (saga ids and saga names, in a path or a query): 1 to :data:`ID_MAX_LENGTH`
  characters, no control character (U+0000-U+001F, U+007F-U+009F: PostgreSQL cannot store
  NUL); otherwise 422 listing the problem;
- dead-letter ids: integers 1 to 2^63-1 (a store's 64-bit row id); otherwise 422;
- a saga's input: at most ``max_input_bytes`` as compact UTF-8 JSON (else 413), nested
  at most :data:`MAX_INPUT_DEPTH` deep, without NUL or unpaired surrogates (JSON
  ``\\ud800``-style escapes) in any key or string (else 422): neither store can keep those in text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import Path, Query

from sagacrew.runtime.api._errors import HttpError

ID_MAX_LENGTH: Final = 200
"""The longest saga id or saga name the API accepts (characters)."""

ID_PATTERN: Final = r"^[^\x00-\x1f\x7f-\x9f]+$"
"""Ids contain no control characters (checked with the length, before any store call)."""

MAX_DEAD_LETTER_ID: Final = 2**63 - 1
"""The largest dead-letter id (a signed 64-bit row id on both stores)."""

MAX_INPUT_DEPTH: Final = 32
"""How deeply a saga's input may nest objects and arrays."""

DEFAULT_MAX_INPUT_BYTES: Final = 64 * 1024
"""Default of ``create_app(max_input_bytes=)``: 64 KiB of compact JSON."""

_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")

_ID_RULE: Final = f"1 to {ID_MAX_LENGTH} characters, no control characters"

SagaIdPath = Annotated[
    str,
    Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description=_ID_RULE),
]
SagaNamePath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=ID_PATTERN,
        description=f"a saga type of the system ({_ID_RULE})",
    ),
]
SagaNameQuery = Annotated[
    str | None,
    Query(
        max_length=ID_MAX_LENGTH,
        pattern=ID_PATTERN.replace("+", "*"),
        description=f"one saga type (empty: any; at most {ID_MAX_LENGTH} characters, "
        "no control characters)",
    ),
]
DeadLetterIdPath = Annotated[
    int, Path(ge=1, le=MAX_DEAD_LETTER_ID, description="a dead letter's id (1 to 2^63-1)")
]


def check_saga_input(data: Mapping[str, Any], max_input_bytes: int) -> None:
    """Raise 422 for NUL or too deep nesting in ``data``, 413 when it is too large."""
    _check_shape(data)
    size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    if size > max_input_bytes:
        raise HttpError(
            413,
            f"saga input is {size} bytes of JSON, more than the limit of {max_input_bytes}; "
            "send a smaller input (keep large documents elsewhere and pass their ids)",
            {"size": size, "max_input_bytes": max_input_bytes},
        )


def _check_shape(data: Mapping[str, Any]) -> None:
    """Walk ``data`` without recursion: nesting depth, NUL and unpaired surrogates."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise HttpError(
                    422,
                    "saga input contains a NUL character (U+0000); remove it",
                    ["NUL cannot be stored (PostgreSQL refuses it in text)"],
                )
            if _SURROGATE.search(value):
                raise HttpError(
                    422,
                    "saga input contains an unpaired surrogate (a \\ud800-\\udfff escape); "
                    "send valid Unicode",
                    ["text with unpaired surrogates cannot be stored as UTF-8"],
                )
            continue
        if not isinstance(value, Mapping | list):
            continue
        if depth > MAX_INPUT_DEPTH:
            raise HttpError(
                422,
                f"saga input nests deeper than {MAX_INPUT_DEPTH} levels; flatten it",
                [f"objects and arrays may nest at most {MAX_INPUT_DEPTH} levels"],
            )
        if isinstance(value, Mapping):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        else:
            pending.extend((item, depth + 1) for item in value)
