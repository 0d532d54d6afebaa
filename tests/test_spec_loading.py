"""Loading specs: positions, YAML problems, file problems, all errors at once, the schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sagacrew.agents.spec import MAX_SPEC_BYTES
from sagacrew.agents.spec import SPEC_SCHEMA_ID
from sagacrew.agents.spec import DomainSpec
from sagacrew.agents.spec import SpecError
from sagacrew.agents.spec import SpecErrors
from sagacrew.agents.spec import load_spec
from sagacrew.agents.spec import parse_spec
from sagacrew.agents.spec import spec_json_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SAMPLES = Path(__file__).resolve().parent / "data" / "specs"
EXAMPLE_FILES = ["order_fulfilment.yaml", "user_provisioning.yaml", "ml_training.yaml"]


def errors_of(path: Path) -> list[SpecError]:
    with pytest.raises(SpecErrors) as caught:
        load_spec(path)
    return caught.value.errors


def only_error(path: Path) -> SpecError:
    errors = errors_of(path)
    assert len(errors) == 1, errors
    return errors[0]


def only_error_in(text: str, name: str = "s.yaml") -> SpecError:
    """The one error of ``text`` parsed as file ``name`` (more than one fails the test)."""
    with pytest.raises(SpecErrors) as caught:
        parse_spec(text, name)
    (error,) = caught.value.errors
    return error


def sample_with(old: str, new: str) -> str:
    """``unknown_field.yaml`` without its unknown field (``pivott``), ``old`` replaced by
    ``new``."""
    text = (SAMPLES / "unknown_field.yaml").read_text().replace("        pivott: true\n", "")
    return text.replace(old, new)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_specs_load_cleanly(name: str) -> None:
    spec = load_spec(EXAMPLES / name)
    assert isinstance(spec, DomainSpec)
    assert spec.system == name.removesuffix(".yaml")


def test_spec_error_str_is_file_line_col_message_fix() -> None:
    error = SpecError("spec.yaml", 3, 7, "unknown field 'pivott'", "did you mean 'pivot'?")
    assert str(error) == "spec.yaml:3:7: unknown field 'pivott'; did you mean 'pivot'?"
    assert (error.file, error.line, error.column) == ("spec.yaml", 3, 7)
    assert error.message == "unknown field 'pivott'"
    assert error.fix == "did you mean 'pivot'?"


def test_spec_errors_sorts_by_position_and_prints_one_line_each() -> None:
    late = SpecError("s.yaml", 9, 1, "b", "fix b")
    early = SpecError("s.yaml", 2, 5, "a", "fix a")
    same_line = SpecError("s.yaml", 2, 1, "c", "fix c")
    errors = SpecErrors([late, early, same_line])
    assert errors.errors == [same_line, early, late]
    assert str(errors).splitlines() == [str(same_line), str(early), str(late)]


def test_unknown_field_suggests_the_closest_field_at_the_key() -> None:
    error = only_error(SAMPLES / "unknown_field.yaml")
    assert str(error) == (
        f"{SAMPLES / 'unknown_field.yaml'}:16:9: unknown field 'pivott'; did you mean 'pivot'?"
    )


def test_unknown_field_without_a_close_match_lists_the_allowed_fields() -> None:
    text = (SAMPLES / "unknown_field.yaml").read_text().replace("pivott", "colour")
    error = only_error_in(text)
    assert error.message == "unknown field 'colour'"
    assert error.fix == (
        "remove it; the fields allowed here are compensate_with, description, for_each, "
        "invoke, lock, name, on_timeout, pivot, retry, timeout_s, with"
    )


def test_duplicate_key_is_reported_at_the_second_key() -> None:
    error = only_error(SAMPLES / "duplicate_key.yaml")
    assert (error.line, error.column) == (10, 11)
    assert "duplicate key 'total_cents' (first written at line 9" in error.message
    assert "remove one of the two 'total_cents' entries" in error.fix


def test_yaml_tab_indentation_is_a_syntax_error_at_the_tab() -> None:
    error = only_error(SAMPLES / "tab_indent.yaml")
    assert (error.line, error.column) == (4, 1)
    assert error.message.startswith("YAML syntax error")
    assert error.fix == "indent with spaces, not tabs"


def test_yaml_unclosed_bracket_is_a_syntax_error_with_a_fix() -> None:
    error = only_error(SAMPLES / "unclosed_bracket.yaml")
    assert error.line == 5
    assert "close the list with `]`" in error.fix


def test_all_problems_of_a_file_are_reported_at_once_sorted_by_position() -> None:
    errors = errors_of(SAMPLES / "many_problems.yaml")
    found = [(e.line, e.column, e.message.split(" ")[0]) for e in errors]
    assert found == [
        (7, 19, "identity"),  # rule: identity is not a field (did you mean order_id)
        (13, 20, "in"),  # rule: invariant names an unknown field, at the name itself
        (16, 19, "kind"),  # pydantic: bad kind
        (26, 17, "deadline_s"),  # pydantic: not positive
        (28, 9, "step"),  # rule: step before the pivot cannot be compensated
        (31, 17, "step"),  # rule: unknown invoke target, did you mean
    ]
    assert "did you mean 'order_id'?" in errors[0].fix
    assert "did you mean 'total_cents'?" in errors[1].fix
    assert (
        errors[2].message
        == "kind 'creat' is not one of create, update, delete, reserve, release, query"
    )
    assert errors[2].fix == "write e.g. `kind: create`"
    assert "did you mean 'ordering.order.approve_order'?" in errors[5].fix


def test_missing_required_key_points_at_its_parent_mapping() -> None:
    text = "system: shop\ncontexts:\n  ordering:\n    aggregates:\n      order:\n" + (
        "        fields: {order_id: str}\n        commands: {create_order: {kind: create}}\n"
        "sagas:\n  s:\n    trigger: ordering.order.create_order\n"
        "    steps: [{name: a, invoke: ordering.order.create_order}]\n"
    )
    error = only_error_in(text)
    assert (error.line, error.column) == (6, 9)
    assert error.message == "missing required field 'identity'"
    assert "identity: order_id" in error.fix


def test_a_misspelt_required_field_reports_only_the_unknown_field() -> None:
    error = only_error_in(sample_with("trigger:", "triger:"))
    assert str(error) == "s.yaml:12:5: unknown field 'triger'; did you mean 'trigger'?"


def test_bad_identifier_key_suggests_a_snake_case_name() -> None:
    error = only_error_in(sample_with("  place_order:", "  Place Order:"))
    assert (error.line, error.column) == (11, 3)
    assert error.message == "'Place Order' is not a valid name"
    assert error.fix.endswith("e.g. `place_order`")


def test_union_type_errors_are_merged_into_one() -> None:
    error = only_error_in(sample_with("{kind: create}", "{kind: create, sets: {order_id: [1, 2]}}"))
    assert error.message == (
        "sets entry 'order_id' must be text, a number or a boolean (true or false) (got a list)"
    )


def test_missing_file_is_one_error_with_a_fix(tmp_path: Path) -> None:
    error = only_error(tmp_path / "nope.yaml")
    assert (error.line, error.column) == (1, 1)
    assert error.message == "no such file"
    assert error.fix.startswith("check the path")


def test_directory_is_one_error_with_a_fix(tmp_path: Path) -> None:
    error = only_error(tmp_path)
    assert error.message == "this is a directory, not a spec file"


def test_file_over_one_mib_is_refused_without_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_SPEC_BYTES + "\n")
    error = only_error(big)
    assert "over the limit of 1048576 bytes (1 MiB)" in error.message
    assert error.fix.startswith("split it")


def test_top_level_list_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "list.yaml"
    spec.write_text("- system: shop\n")
    error = only_error(spec)
    assert error.message == "the spec must be a mapping at the top level, not a list"
    assert "system:" in error.fix


def test_empty_file_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "empty.yaml"
    spec.write_text("# nothing yet\n")
    assert only_error(spec).message == "the spec is empty"


def test_non_utf8_file_is_refused_at_the_bad_byte(tmp_path: Path) -> None:
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes("system: shop\ntitle: caf\xe9\n".encode("latin-1"))
    error = only_error(spec)
    assert (error.line, error.column) == (2, 11)
    assert error.fix == "save the file as UTF-8"


def test_two_documents_in_one_file_are_refused() -> None:
    error = only_error_in("system: a\n---\nsystem: b\n")
    assert error.message == "YAML syntax error: the file holds more than one YAML document"
    assert error.line == 2


def test_python_tags_are_refused_not_executed() -> None:
    error = only_error_in("system: !!python/object/apply:os.system ['true']\n")
    assert "tag" in error.message
    assert error.line == 1


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(SpecErrors) as caught:
        parse_spec("system: shop\ncontexts: &a {x: *a}\n", "s.yaml")
    assert "recursive alias" in caught.value.errors[0].message


def test_merge_keys_work_and_explicit_keys_override_them() -> None:
    text = (EXAMPLES / "order_fulfilment.yaml").read_text()
    text = text.replace(
        "    compensation_retry: {max_attempts: 3, initial_backoff_s: 0.005, max_backoff_s: 0.05}",
        "    compensation_retry: {<<: *fast, max_attempts: 3}",
    ).replace("    retry: {max_attempts: 4,", "    retry: &fast {max_attempts: 4,")
    spec = parse_spec(text)
    saga = spec.sagas["create_order"]
    assert saga.compensation_retry.max_attempts == 3
    assert saga.compensation_retry.max_backoff_s == saga.retry.max_backoff_s == 0.05


def test_unicode_names_load_and_compile() -> None:
    spec = load_spec(SAMPLES / "unicode_names.yaml")
    aggregate = spec.contexts["заказы"].aggregates["bestellung"]
    assert aggregate.fields["größe"] == "str"
    assert "заказать" in spec.sagas


def test_unicode_columns_count_characters() -> None:
    text = (
        (SAMPLES / "unicode_names.yaml").read_text().replace("check: menge > 0", "check: mänge > 0")
    )
    error = only_error_in(text, "u.yaml")
    assert (error.line, error.column) == (14, 20)
    assert "did you mean 'menge'?" in error.fix


def test_json_schema_is_a_valid_draft_2020_12_schema_with_id_and_descriptions() -> None:
    schema = spec_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SPEC_SCHEMA_ID == "https://sagacrew.dev/spec.schema.json"
    assert schema["title"] == "sagacrew domain spec"
    for key in ("system", "contexts", "externals", "sagas", "profiles", "workload"):
        assert key in schema["properties"]
        assert schema["properties"][key].get("description")
    assert schema["$defs"]["SagaStep"]["properties"]["pivot"]["description"]
    assert json.dumps(schema, sort_keys=True) == json.dumps(spec_json_schema(), sort_keys=True)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_specs_validate_against_the_json_schema(name: str) -> None:
    data = yaml.safe_load((EXAMPLES / name).read_text())
    jsonschema.Draft202012Validator(spec_json_schema()).validate(data)


def test_json_schema_rejects_an_unknown_field() -> None:
    data = yaml.safe_load((EXAMPLES / "order_fulfilment.yaml").read_text())
    data["sagas"]["create_order"]["steps"][0]["pivott"] = True
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(spec_json_schema()).validate(data)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from([*"ab: -[]{}\n\t'\"&*!#|>,.%@`", "\u00e9"])))
def test_any_text_gives_a_spec_or_spec_errors_never_another_exception(text: str) -> None:
    try:
        parse_spec(text, "fuzz.yaml")
    except SpecErrors as errors:
        assert errors.errors
        for error in errors.errors:
            assert error.line >= 1 and error.column >= 1
            assert error.message and error.fix


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert only_error(fifo).message == "this is not a regular file"


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 8):
        aliases = ", ".join([f"*a{n - 1}"] * 10)
        lines.append(f"a{n}: &a{n} [{aliases}]")
    error = only_error_in("\n".join(lines) + "\n", "bomb.yaml")
    assert "aliases copy more than" in error.message


def test_control_characters_are_a_syntax_error_at_their_position() -> None:
    error = only_error_in("system: shop\ntitle: a\x00b\n")
    assert (error.line, error.column) == (2, 9)
    assert "control character" in error.fix


def test_yaml_dates_and_booleans_in_text_fields_get_a_quoting_fix() -> None:
    text = (EXAMPLES / "order_fulfilment.yaml").read_text()
    text = text.replace("title: Order fulfilment (FTGO CreateOrderSaga)", "title: 2024-01-01")
    text = text.replace("description: Orders placed by consumers.", "description: no")
    with pytest.raises(SpecErrors) as caught:
        parse_spec(text, "s.yaml")
    first, second = caught.value.errors
    assert (first.line, first.column) == (5, 8)
    assert first.fix == "quote it (YAML read it as a date), e.g. `'2024-01-01'`"
    assert second.message == "description must be text (got false)"
    assert "YAML reads unquoted yes, no, on, off, true and false as booleans" in second.fix
