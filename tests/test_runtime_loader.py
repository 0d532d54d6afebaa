"""``sagacrew.runtime.loader``: the runtime opens a generated system by itself.

It finds the same package and blueprint the crew does, says in one line what is wrong
with a folder that is not a generated system, and ``serve`` works with the crew and the
agents made unimportable.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sagacrew.agents.generated import open_generated
from sagacrew.runtime.loader import GeneratedSystemError
from sagacrew.runtime.loader import load_system

ROOT = Path(__file__).resolve().parent.parent
GENERATED = sorted(p for p in (ROOT / "generated").iterdir() if (p / "blueprint.json").is_file())

BLOCK_CREW = (
    "import sys\n"
    "class _Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.startswith(('sagacrew.crew', 'sagacrew.agents')):\n"
    "            raise ImportError(f'{name} is blocked: the runtime must not need it')\n"
    "        return None\n"
    "sys.meta_path.insert(0, _Block())\n"
)
"""Prepended to a probe: any import of the crew or the agents fails."""


@pytest.mark.parametrize("folder", GENERATED, ids=lambda p: p.name)
def test_the_runtime_opens_the_same_system_the_crew_does(folder: Path) -> None:
    loaded = load_system(folder)
    crew = open_generated(folder)
    assert loaded.package is crew.package
    assert dict(loaded.blueprint) == crew.blueprint.model_dump(mode="json")
    assert (loaded.name, loaded.state_dir) == (crew.name, crew.state_dir)
    assert loaded.state_dir == folder / ".sagacrew"


def _error(root: Path) -> str:
    with pytest.raises(GeneratedSystemError) as caught:
        load_system(root)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_missing_folder_or_blueprint_says_what_to_run(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope") == (
        f"{tmp_path / 'nope'}: not a folder; pass the folder `sagacrew generate SPEC -o DIR` wrote"
    )
    assert _error(tmp_path) == (
        f"{tmp_path / 'blueprint.json'}: missing; run `sagacrew generate SPEC -o {tmp_path}` first"
    )


def test_broken_json_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "blueprint.json").write_text("\n" * 99 + '  {"system": }', "utf-8")
    message = _error(tmp_path)
    assert message.startswith(f"{tmp_path / 'blueprint.json'}:100:14: not a sagacrew blueprint")
    assert message.endswith(f"regenerate it with `sagacrew generate SPEC -o {tmp_path}`")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2]", "not a JSON object"),
        ('{"title": "x"}', "no `system` naming its package, got None"),
        ('{"system": "not a name"}', "got 'not a name'"),
    ],
)
def test_a_blueprint_without_a_package_name_is_refused(
    tmp_path: Path, content: str, reason: str
) -> None:
    (tmp_path / "blueprint.json").write_text(content, "utf-8")
    message = _error(tmp_path)
    assert message.startswith(f"{tmp_path / 'blueprint.json'}:1:1: not a sagacrew blueprint")
    assert reason in message


def test_a_missing_package_folder_names_it_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "blueprint.json").write_text('{"system": "absent_system_pkg"}', "utf-8")
    assert _error(tmp_path) == (
        f"{tmp_path / 'absent_system_pkg'}: the generated package is missing; "
        f"regenerate it with `sagacrew generate SPEC -o {tmp_path}`"
    )
    assert "absent_system_pkg" not in sys.modules


def test_serve_opens_and_builds_a_system_without_the_crew_or_the_agents(tmp_path: Path) -> None:
    probe = BLOCK_CREW + (
        "from pathlib import Path\n"
        "from sagacrew.runtime import GeneratedSystemError, load_system\n"
        "from sagacrew.runtime.api import create_app, serve\n"
        f"loaded = load_system(Path({str(ROOT / 'generated' / 'order_fulfilment')!r}))\n"
        "system = loaded.build_system('sqlite://:memory:')\n"
        "app = create_app(system, blueprint=loaded.blueprint, flowcharts_dir=loaded.root / "
        "'flowcharts', operator_token=None)\n"
        "print(system.name, '|', app.title)\n"
        "system.store.close()\n"
        "try:\n"
        f"    serve(Path({str(tmp_path)!r}), port=0)\n"
        "except GeneratedSystemError as error:\n"
        "    print('refused:', error)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sagacrew.crew', 'sagacrew.ag'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    built, refused, loaded_crew = done.stdout.splitlines()
    assert built.startswith("order_fulfilment | sagacrew: ")
    assert refused.startswith(f"refused: {tmp_path / 'blueprint.json'}: missing")
    assert loaded_crew == "[]"


def test_sagacrew_serve_on_a_folder_that_is_not_generated_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "sagacrew.crew.cli", "serve", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,  # a guard against a hang, not an assertion
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"sagacrew: {tmp_path / 'blueprint.json'}: missing; "
        f"run `sagacrew generate SPEC -o {tmp_path}` first"
    ]
