"""The blueprint is the single source: ``blueprint.json`` alone regenerates every example
byte for byte, and ``emit`` reads nothing but the blueprint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.blueprint import PayloadEntry
from sagacrew.agents.spec import load_spec
from sagacrew.crew.emit import EmitError
from sagacrew.crew.emit import emit_files
from sagacrew.crew.emit.system import user_owned
from sagacrew.crew.pipeline import design
from sagacrew.crew.pipeline import generate
from sagacrew.crew.pipeline import read_blueprint
from sagacrew.crew.pipeline import regenerate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path (SVGs aside: Graphviz versions differ)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".svg"
    }


@pytest.mark.parametrize("example", EXAMPLES)
def test_blueprint_json_alone_regenerates_the_system_byte_for_byte(
    example: str, tmp_path: Path
) -> None:
    from_spec, from_blueprint = tmp_path / "a", tmp_path / "b"
    generate(ROOT / "examples" / f"{example}.yaml", from_spec, use_flow=False)
    regenerate(from_spec / "blueprint.json", from_blueprint)
    a, b = tree(from_spec), tree(from_blueprint)
    assert sorted(a) == sorted(b)
    assert [path for path in a if a[path] != b[path]] == []
    assert f"{load_spec(ROOT / 'examples' / f'{example}.yaml').system}/sagas.py" in b


@pytest.mark.parametrize("example", EXAMPLES)
def test_committed_blueprint_regenerates_the_committed_files(example: str) -> None:
    system_dir = ROOT / "generated" / load_spec(ROOT / "examples" / f"{example}.yaml").system
    blueprint = read_blueprint(system_dir)
    files = emit_files(blueprint)
    owned = user_owned(blueprint.system)  # the user's business rules: created once
    for path, text in files.items():
        if path not in owned:
            assert (system_dir / path).read_text("utf-8") == text, f"{system_dir}/{path} differs"


@pytest.fixture(scope="module")
def order() -> Blueprint:
    spec_path = ROOT / "examples" / "order_fulfilment.yaml"
    return design(load_spec(spec_path), str(spec_path))


def test_the_blueprint_records_what_emit_used_to_read_from_the_spec(order: Blueprint) -> None:
    assert order.actors and order.sagas and order.validation
    gateway = next(a for a in order.actors.actors if a.name == "payment_gateway")
    assert {h.command: h.undoes for h in gateway.handlers}["void_authorization"] == (
        "authorize_card"
    )
    saga = order.sagas.sagas[0]
    steps = {s.name: s for s in saga.steps}
    assert steps["create_order"].payload is not None
    assert steps["create_order"].payload[0].key == "order_id"
    authorize = steps["authorize_card"].compensation
    assert authorize is not None and authorize.payload is not None
    assert [(e.key, e.source) for e in authorize.payload][:2] == [
        ("undoes", "forward_key"),
        ("resource_id", "step_result"),
    ]
    (plan,) = order.validation.saga_tests
    assert plan.saga == saga.name
    assert plan.dead_letter is not None
    assert plan.effects.calls == sum(1 for s in saga.steps if s.target == "payment_gateway")


def test_aggregate_initial_state_comes_from_the_blueprint() -> None:
    spec_path = ROOT / "examples" / "ml_training.yaml"
    blueprint = design(load_spec(spec_path), str(spec_path))
    assert blueprint.actors is not None
    quota = next(a for a in blueprint.actors.actors if a.name == "compute.gpu_quota")
    assert quota.initial == {"available_gpus": 64}
    actors = blueprint.actors.model_copy(
        update={
            "actors": [
                a.model_copy(update={"initial": {"available_gpus": 8}}) if a is quota else a
                for a in blueprint.actors.actors
            ]
        }
    )
    code = emit_files(blueprint.model_copy(update={"actors": actors}))["ml_training/actors.py"]
    assert '{"available_gpus": 8}' in code
    assert '{"available_gpus": 64}' not in code


def test_payload_entries_are_rendered_not_decided(order: Blueprint) -> None:
    assert order.sagas is not None
    saga = order.sagas.sagas[0]
    first = saga.steps[0].model_copy(
        update={"payload": [PayloadEntry(key="order_ref", source="input", field="order_id")]}
    )
    changed = saga.model_copy(update={"steps": [first, *saga.steps[1:]]})
    sagas = order.sagas.model_copy(update={"sagas": [changed]})
    code = emit_files(order.model_copy(update={"sagas": sagas}))["order_fulfilment/sagas.py"]
    assert 'Send("ordering.order", "create_order", order_ref="order_id")' in code


def test_mapping_order_survives_blueprint_json(order: Blueprint) -> None:
    assert order.actors is not None
    reloaded = Blueprint.model_validate_json(order.to_json())
    assert reloaded == order
    assert reloaded.to_json() == order.to_json()
    first = json.loads(order.to_json())["actors"]["actors"][0]
    assert list(first) == sorted(first)  # a model's keys are sorted
    assert list(first["fields"]) == list(order.actors.actors[0].fields)  # a mapping's kept


def test_a_blueprint_without_the_recorded_decisions_is_refused_with_a_fix(
    order: Blueprint,
) -> None:
    data = json.loads(order.to_json())
    for saga in data["sagas"]["sagas"]:
        for step in saga["steps"]:
            del step["payload"]
    old = Blueprint.model_validate(data)  # an old blueprint still loads
    with pytest.raises(EmitError, match="sagacrew generate SPEC"):
        emit_files(old)


def sagacrew(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sagacrew.crew.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_cli_generates_from_a_blueprint_alone(tmp_path: Path) -> None:
    source = ROOT / "generated" / "order_fulfilment" / "blueprint.json"
    out = tmp_path / "out"
    done = sagacrew("generate", "--from-blueprint", str(source), "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"files in {out}" in done.stdout
    assert (out / "order_fulfilment" / "sagas.py").read_text("utf-8") == (
        ROOT / "generated" / "order_fulfilment" / "order_fulfilment" / "sagas.py"
    ).read_text("utf-8")


def test_cli_refuses_both_a_spec_and_a_blueprint(tmp_path: Path) -> None:
    done = sagacrew("generate", "x.yaml", "--from-blueprint", "blueprint.json", cwd=tmp_path)
    assert done.returncode == 2
    assert "--from-blueprint" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_that_is_not_a_blueprint_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "blueprint.json"
    bad.write_text('{"system": "x"}', "utf-8")
    with pytest.raises(EmitError, match="not a sagacrew blueprint"):
        read_blueprint(tmp_path)
