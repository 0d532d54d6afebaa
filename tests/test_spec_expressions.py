"""The spec's expression language: what compiles, to what, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sagacrew.agents.spec import ExpressionError
from sagacrew.agents.spec import compile_expression


def compiled(expr: str, state: list[str] | None = None, params: list[str] | None = None) -> str:
    return compile_expression(expr, state_fields=state or [], params=params or [])


def refused(expr: str, state: list[str] | None = None, params: list[str] | None = None) -> Any:
    with pytest.raises(ExpressionError) as caught:
        compiled(expr, state, params)
    return caught.value


def test_state_field_compiles_to_a_state_lookup() -> None:
    assert compiled("total_cents > 0", ["total_cents"]) == 'state["total_cents"] > 0'


def test_param_wins_over_a_state_field_of_the_same_name() -> None:
    result = compiled("total_cents > 50000", ["total_cents"], ["total_cents"])
    assert result == 'params["total_cents"] > 50000'


def test_in_with_a_list_literal_uses_double_quoted_strings() -> None:
    result = compiled("status in ['pending', 'approved']", ["status"])
    assert result == 'state["status"] in ["pending", "approved"]'


def test_not_in_and_boolean_operators_and_tuples() -> None:
    result = compiled(
        "status not in ('a',) and not verified or x == true", ["status", "verified", "x"]
    )
    assert result == (
        'state["status"] not in ("a",) and not state["verified"] or state["x"] == True'
    )


def test_parentheses_are_kept_only_where_precedence_needs_them() -> None:
    result = compiled("((a + b)) * (c - (d - 1)) / 2 >= -a", ["a", "b", "c", "d"])
    assert result == (
        '(state["a"] + state["b"]) * (state["c"] - (state["d"] - 1)) / 2 >= -state["a"]'
    )
    assert compiled("(a or b) and c", ["a", "b", "c"]) == (
        '(state["a"] or state["b"]) and state["c"]'
    )


def test_chained_comparisons_and_float_literals() -> None:
    assert compiled("0 <= ratio < 1.5", ["ratio"]) == '0 <= state["ratio"] < 1.5'


def test_unicode_names_compile() -> None:
    assert compiled("größe != 'groß'", ["größe"]) == 'state["größe"] != "groß"'


def test_output_is_deterministic() -> None:
    expr = "status in ['a', 'b'] and total > 1"
    assert compiled(expr, ["status", "total"]) == compiled(expr, ["total", "status"])


@pytest.mark.parametrize(
    ("expr", "fix_part"),
    [
        ("len(status) > 0", "function calls are not allowed"),
        ("order.total > 0", "attribute access is not allowed"),
        ("items[0] > 0", "indexing is not allowed"),
        ("(lambda: 1)() > 0", "function calls are not allowed"),
        ("total if total else 0", "`x if c else y` is not allowed"),
        ("total ** 2 > 1", "`**` is not supported"),
        ("total & 1", "use `and` instead of `&`"),
        ("status is None", "compare with `==` or `!=`"),
        ("{1, 2}", "set literals are not allowed"),
        ("[x for x in total]", "comprehensions are not allowed"),
        ("f'{total}' == 'a'", "f-strings are not allowed"),
    ],
)
def test_constructs_outside_the_language_are_refused_with_a_fix(expr: str, fix_part: str) -> None:
    error = refused(expr, ["total", "status", "items", "order"])
    assert fix_part in error.fix


def test_unknown_name_is_refused_with_did_you_mean_and_its_offset() -> None:
    error = refused("total_cents > limt", ["total_cents"], ["limit"])
    assert error.message == "unknown name 'limt'"
    assert error.fix == "did you mean 'limit'?"
    assert error.offset == len("total_cents > ")


def test_unknown_name_without_a_close_match_lists_the_names() -> None:
    error = refused("zzz > 1", ["total", "status"])
    assert error.fix == "use one of: status, total"


def test_syntax_error_points_at_the_end_when_the_expression_stops_early() -> None:
    error = refused("total >", ["total"])
    assert error.message == "invalid expression: the expression ends too early"
    assert error.offset == len("total >")


def test_none_is_not_a_literal_of_the_language() -> None:
    assert "not allowed" in refused("total == None", ["total"]).message


def test_empty_and_multiline_expressions_are_refused() -> None:
    assert refused("   ").message == "the expression is empty"
    assert refused("a >\n 1", ["a"]).message == "the expression spans several lines"


def test_a_field_named_like_a_python_keyword_gets_a_rename_fix() -> None:
    error = refused("from > 0", ["from"])
    assert "'from' is a reserved word" in error.message
    assert error.fix == "rename the field or parameter 'from', e.g. to 'from_value'"


def test_expression_error_str_is_message_then_fix() -> None:
    error = refused("zzz > 1", ["zzz_a"])
    assert str(error) == "unknown name 'zzz'; did you mean 'zzz_a'?"


_NAMES = ["a", "b", "c"]
_atoms = st.one_of(
    st.sampled_from(_NAMES), st.integers(min_value=-5, max_value=5).map(lambda n: f"({n})")
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "<", "==", "and", "or"]), children)
    return st.one_of(
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        binary.map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        children.map(lambda c: f"(not {c})"),
        children.map(lambda c: f"(-{c})"),
    )


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(_atoms, _combine, max_leaves=8),
    st.fixed_dictionaries({name: st.integers(-3, 3) for name in _NAMES}),
)
def test_compiled_expression_evaluates_like_the_original(expr: str, values: dict[str, int]) -> None:
    source = compiled(expr, ["a", "b"], ["c"])
    state = {"a": values["a"], "b": values["b"]}
    params = {"c": values["c"]}
    assert eval(source, {}, {"state": state, "params": params}) == eval(expr, {}, dict(values))
