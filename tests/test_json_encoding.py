"""The store's JSON: compact, keys sorted, byte for byte what ``json.dumps`` writes with
those settings; what is not JSON is refused as ``json`` refuses it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagacrew.runtime.store import encoded

VALUES: list[dict[str, Any]] = [
    {},
    {"b": 1, "a": "x"},
    {"nested": {"z": [1, 2.5, None, True, False], "a": {"deep": ["é", "\u2028", "\x00"]}}},
    {"quote": 'say "hi"\\ \n\t', "big": 10**30, "small": 1e-7, "negative": -0.0},
    {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")},
]


@pytest.mark.parametrize("value", VALUES)
def test_the_encoding_is_json_dumps_with_sorted_keys_and_no_spaces(value: dict[str, Any]) -> None:
    assert encoded(value).text == json.dumps(value, sort_keys=True, separators=(",", ":"))


def test_what_is_not_json_is_refused_as_json_refuses_it() -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        encoded({"a": looped})
    with pytest.raises(TypeError, match="not JSON serializable"):
        encoded({"a": object()})
    with pytest.raises(TypeError):
        encoded({1: "a", "b": 2})  # type: ignore[dict-item]
