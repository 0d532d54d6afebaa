"""A lean deployment: the runtime and one generated system in a fresh venv, nothing else.

    python bench/bench_install.py [--runs 7] [--full]

Copies ``runtime/`` and ``generated/order_fulfilment/`` to a temporary folder (so no build
output lands in the checkout), makes a fresh venv and runs
``pip install ./runtime ./order_fulfilment`` in it. Prints what got installed, checks that
none of the crew's heavy dependencies came along (crewAI, langchain, pytest, ruff, jinja2,
typer, rich), the installed size, the median wall time of ``python -m order_fulfilment
--help`` against the venv's bare interpreter start (``python -c pass``) measured in the same
run, and the time until ``python -m order_fulfilment serve`` answers ``/healthz``.

The size is compared with the whole project's: the project's ``.venv`` (what
``./scripts/test`` installs: ``.[test,crewai]``) when it exists, and with ``--full`` a
fresh venv with ``pip install .``, then ``.[crewai]`` added (slow: about a gigabyte).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = "order_fulfilment"
HEAVY = ("crewai", "langchain", "langchain-openai", "pytest", "ruff", "jinja2", "typer", "rich")
MUST_NOT = ("crewai", "langchain", "pytest", "ruff")
HELP_GOAL_S = 0.5
MB = 1e6
SKIP = shutil.ignore_patterns(
    "__pycache__", "*.egg-info", "build", ".sagacrew", ".mypy_cache", ".benchmarks"
)


def run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return done.stdout


def make_venv(path: Path) -> Path:
    run(sys.executable, "-m", "venv", path)
    return path / "bin" / "python"


def pip_install(python: Path, *targets: str | Path, cwd: Path) -> float:
    start = time.perf_counter()
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *targets, cwd=cwd)
    return time.perf_counter() - start


def installed(python: Path) -> dict[str, str]:
    listed = run(python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check")
    return {p["name"].lower(): p["version"] for p in json.loads(listed)}


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / MB


def median_wall(argv: list[str | Path], runs: int, cwd: Path) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(*argv, cwd=cwd)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_healthy(python: Path, cwd: Path, timeout_s: float = 30.0) -> float:
    """Start ``python -m SYSTEM serve`` on SQLite; seconds until /healthz answers 200."""
    port = free_port()
    store = f"sqlite:///{cwd / 'serve.db'}"
    argv = [str(python), "-m", SYSTEM, "serve", "--store", store, "--port", str(port)]
    start = time.perf_counter()
    server = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - start < timeout_s:
            if server.poll() is not None:
                sys.exit(f"serve exited {server.returncode}: {server.communicate()[1].decode()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        sys.exit(f"serve did not answer /healthz within {timeout_s:.0f} s")
    finally:
        server.terminate()
        server.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of --help (median)")
    parser.add_argument("--full", action="store_true", help="also install . and .[crewai]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "src"
        shutil.copytree(ROOT / "runtime", src / "runtime", ignore=SKIP)
        shutil.copytree(ROOT / "generated" / SYSTEM, src / SYSTEM, ignore=SKIP)
        python = make_venv(tmp / "venv")
        empty_mb = size_mb(site_packages(tmp / "venv"))
        before = installed(python)
        install_s = pip_install(python, "./runtime", f"./{SYSTEM}", cwd=src)
        after = installed(python)
        added = {name: version for name, version in after.items() if name not in before}
        lean_mb = size_mb(site_packages(tmp / "venv")) - empty_mb
        work = tmp / "work"  # not the source folder: the installed package answers
        work.mkdir()
        help_s = median_wall([python, "-m", SYSTEM, "--help"], args.runs, work)
        bare_s = median_wall([python, "-c", "pass"], args.runs, work)
        healthy_s = time_to_healthy(python, work)
        whole: dict[str, float] = {}
        if args.full:
            full = make_venv(tmp / "full")
            copy = tmp / "project"
            for part in ("crew", "agents", "runtime", "prompts"):
                shutil.copytree(ROOT / part, copy / part, ignore=SKIP)
            shutil.copy(ROOT / "pyproject.toml", copy)
            shutil.copy(ROOT / "README.md", copy)
            for target in (".", ".[crewai]"):  # the second adds crewAI to the first
                pip_install(full, target, cwd=copy)
                whole[target] = size_mb(site_packages(tmp / "full")) - empty_mb

    print(f"pip install ./runtime ./{SYSTEM} in a fresh venv: {install_s:.1f} s, ", end="")
    print(f"{len(added)} distributions:")
    for name, version in sorted(added.items()):
        print(f"  {name} {version}")
    heavy = sorted(name for name in added if name.startswith(HEAVY))
    print(f"heavy crew dependencies installed: {', '.join(heavy) or 'none'} (checked: ", end="")
    print(f"{', '.join(HEAVY)})")
    print(f"installed size: {lean_mb:.1f} MB (site-packages, the venv's own pip aside)")
    project_venv = ROOT / ".venv"
    if project_venv.is_dir():
        project_mb = size_mb(site_packages(project_venv)) - empty_mb
        print(f"the project's .venv (.[test,crewai]): {project_mb:.0f} MB; ", end="")
        print(f"lean/full: {lean_mb / project_mb:.3f}")
    for target, mb in whole.items():
        print(f"a fresh pip install {target}: {mb:.0f} MB; lean/that: {lean_mb / mb:.3f}")
    if not project_venv.is_dir() and not whole:
        print("whole-project size: skipped (no .venv here; --full installs one, ~1 GB)")
    verdict = "met" if help_s < HELP_GOAL_S else "MISSED"
    print(
        f"python -m {SYSTEM} --help: median {help_s * 1000:.0f} ms over {args.runs} runs; ", end=""
    )
    print(f"bare `python -c pass` {bare_s * 1000:.0f} ms; ratio {help_s / bare_s:.1f}x; ", end="")
    print(f"vs the {HELP_GOAL_S} s goal: {verdict}")
    print(f"python -m {SYSTEM} serve (SQLite): /healthz 200 after {healthy_s:.2f} s")
    wrong = [name for name in added if name.startswith(MUST_NOT)]
    assert not wrong, f"the runtime pulled in {wrong}"


if __name__ == "__main__":
    main()
