"""A lean runtime: ``pip install ./runtime`` (distribution ``sagacrew-runtime``) ships the
runtime alone, and every generated system is a distribution of its own that needs only it
and runs as ``python -m <system> serve``. (bench/bench_install.py does the real install in
a fresh venv; these are the checks that need no download but setuptools.)"""

from __future__ import annotations

import ast
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "runtime"
GENERATED = sorted(p for p in (ROOT / "generated").iterdir() if (p / "blueprint.json").is_file())
ORDER = ROOT / "generated" / "order_fulfilment"
HEAVY = ("crewai", "langchain", "pytest", "ruff", "jinja2", "typer", "rich")
# Modules the runtime imports whose distribution has another name (or comes with another).
DISTRIBUTION_OF = {
    "prometheus_client": "prometheus-client",
    "typing_extensions": "typing-extensions",
    "starlette": "fastapi",
    "opentelemetry": "opentelemetry-sdk",
}
SKIP = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".sagacrew", ".mypy_cache")


def project(path: Path) -> dict[str, object]:
    return tomllib.loads(path.read_text("utf-8"))


def requirement_name(requirement: str) -> str:
    """``psycopg[binary]>=3.1`` → ``psycopg``."""
    for stop in "[<>=!~; ":
        requirement = requirement.split(stop)[0]
    return requirement.lower().replace("_", "-")


def runtime_requirements() -> dict[str, list[str]]:
    """The runtime's requirements: ``""`` → the required ones, an extra → its own."""
    meta = project(RUNTIME / "pyproject.toml")["project"]
    assert isinstance(meta, dict)
    return {"": meta["dependencies"], **meta.get("optional-dependencies", {})}


def third_party_imports(folder: Path) -> set[str]:
    """Top-level modules imported anywhere under ``folder``, the stdlib and sagacrew aside."""
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    # _typeshed: the type checkers' stdlib stubs, imported under TYPE_CHECKING only
    return found - set(sys.stdlib_module_names) - {"sagacrew", "__future__", "_typeshed"}


def test_the_runtime_declares_none_of_the_crews_heavy_dependencies() -> None:
    for extra, requirements in runtime_requirements().items():
        names = [requirement_name(r) for r in requirements]
        assert [n for n in names if n.startswith(HEAVY)] == [], f"extra {extra!r}: {names}"


def test_every_module_the_runtime_imports_is_declared() -> None:
    declared = {requirement_name(r) for rs in runtime_requirements().values() for r in rs}
    imported = {
        DISTRIBUTION_OF.get(module, module.replace("_", "-"))
        for module in third_party_imports(RUNTIME)
    }
    assert imported - declared == set()


def test_the_runtime_package_lists_match_the_root_projects_and_the_folders() -> None:
    def setuptools_table(path: Path) -> dict[str, object]:
        tool = project(path)["tool"]
        assert isinstance(tool, dict)
        return dict(tool["setuptools"])

    alone, whole = (
        setuptools_table(RUNTIME / "pyproject.toml"),
        setuptools_table(ROOT / "pyproject.toml"),
    )
    folders = {
        ".".join(("sagacrew", "runtime", *p.parent.relative_to(RUNTIME).parts))
        for p in RUNTIME.rglob("__init__.py")
        if "build" not in p.relative_to(RUNTIME).parts
    }
    assert isinstance(alone["packages"], list) and isinstance(whole["packages"], list)
    assert set(alone["packages"]) == folders
    assert {p for p in whole["packages"] if p.startswith("sagacrew.runtime")} == folders
    data = whole["package-data"]
    assert isinstance(data, dict)
    assert alone["package-data"] == {k: v for k, v in data.items() if k in folders}


@pytest.mark.slow
def test_the_runtime_wheel_holds_the_runtime_its_sql_and_its_page_and_nothing_else(
    tmp_path: Path,
) -> None:
    source = tmp_path / "src" / "runtime"  # a copy: no build output lands in the checkout
    shutil.copytree(RUNTIME, source, ignore=SKIP)
    wheel = build_wheel(source, tmp_path / "wheel")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {n for n in names if ".dist-info/" not in n}
    assert all(n.startswith("sagacrew/runtime/") for n in package), sorted(package)
    assert "sagacrew/__init__.py" not in names  # `sagacrew` stays a namespace
    expected = {
        "sagacrew/runtime/" + p.relative_to(RUNTIME).as_posix()
        for pattern in ("**/*.py", "store/*.sql", "api/static/*")
        for p in RUNTIME.glob(pattern)
        if "__pycache__" not in p.parts and "build" not in p.relative_to(RUNTIME).parts
    }
    assert "sagacrew/runtime/store/schema.sql" in expected
    assert "sagacrew/runtime/api/static/index.html" in expected
    assert package == expected


def build_wheel(source: Path, out: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(source), "-w", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.mark.parametrize("system_dir", GENERATED, ids=lambda p: p.name)
def test_each_generated_system_is_a_distribution_needing_only_the_runtime(
    system_dir: Path,
) -> None:
    system = system_dir.name
    meta = project(system_dir / "pyproject.toml")
    spec = meta["project"]
    assert isinstance(spec, dict)
    assert spec["name"] == system.replace("_", "-")
    assert [requirement_name(r) for r in spec["dependencies"]] == ["sagacrew-runtime"]
    tool = meta["tool"]
    assert isinstance(tool, dict)
    assert tool["setuptools"]["packages"] == [system, f"{system}._system"]
    listed = (system_dir / "generated-files.txt").read_text("utf-8").split()
    assert {"pyproject.toml", f"{system}/__main__.py"} <= set(listed)


def python_m(system_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", system_dir.name, *args],
        cwd=system_dir,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def test_python_m_system_help_prints_usage_without_loading_the_api_or_the_crew() -> None:
    done = python_m(ORDER, "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: python -m order_fulfilment")
    assert "serve" in done.stdout
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
    heavy = ("fastapi", "uvicorn", "crewai", "sagacrew.crew", "sagacrew.agents")
    assert [m for m in imported if m.startswith(heavy)] == []
    serve = python_m(ORDER, "serve", "--help")
    assert serve.returncode == 0
    for option in ("--store URL", "--host", "--port", "--token"):
        assert option in serve.stdout


def test_python_m_system_serve_without_a_store_is_a_usage_error() -> None:
    done = python_m(ORDER, "serve")
    assert done.returncode == 2
    assert "--store" in done.stderr.splitlines()[-1]


@pytest.mark.slow
def test_python_m_system_serve_answers_health_from_its_folder(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = f"sqlite:///{tmp_path / 'serve.db'}"
    server = subprocess.Popen(
        [sys.executable, "-m", "order_fulfilment", "serve", "--store", store, "--port", str(port)],
        cwd=ORDER,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no answer from /healthz in 30 s"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.1)
        assert '"system":"order_fulfilment"' in body
        page = f"http://127.0.0.1:{port}/api/sagas/nope/status"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(page, timeout=5)
        assert missing.value.code == 404
    finally:
        server.terminate()
        assert server.wait(timeout=20) == 0


@pytest.mark.slow
def test_python_m_system_serve_on_a_bad_store_url_is_one_line() -> None:
    done = python_m(ORDER, "serve", "--store", "mysql://nowhere/db", "--port", "0")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("python -m order_fulfilment: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_generated_wheel_holds_the_package_its_blueprint_and_flowcharts(
    tmp_path: Path,
) -> None:
    source = tmp_path / "order_fulfilment"
    shutil.copytree(ORDER, source, ignore=SKIP)
    names = set(zipfile.ZipFile(build_wheel(source, tmp_path / "wheel")).namelist())
    package = {n for n in names if ".dist-info/" not in n}
    assert {
        "order_fulfilment/__main__.py",
        "order_fulfilment/business_rules.py",
        "order_fulfilment/_system/blueprint.json",
    } <= package
    assert all(n.startswith("order_fulfilment/") for n in package), sorted(package)
    svgs = {f"order_fulfilment/_system/flowcharts/{p.name}" for p in ORDER.glob("flowcharts/*.svg")}
    assert {n for n in package if n.endswith(".svg")} == svgs
    assert not any(n.endswith(".py") and "/_system/" in n for n in package)
