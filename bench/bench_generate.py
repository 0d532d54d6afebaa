"""Generator speed at scale: a 40-aggregate, 25-saga spec against the order example.

    python bench/bench_generate.py [--repeat N] [--no-flow-run]

In process: both specs are loaded, validated, designed by the four agents and emitted
(templates + ruff formatting), in the same run. Whole process: ``sagacrew generate SPEC -o
DIR`` on the big spec, as a user runs it (``python -m sagacrew.crew.cli``: interpreter start,
imports, the crew, emit, files and SVG flowcharts written), on the default path (no crewAI
Flow: it adds nothing there) and, once, with ``--flow`` for comparison when crewAI is
installed (its import alone is ~3 s). Prints each time (best of ``--repeat``; the whole
process's CPU time beside it, which a loaded machine inflates less), the output size, the
ratio big/small, and the big spec's in-process and whole-process times against the 3 s goal.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _goal import against_goal

from sagacrew.agents.spec import load_spec
from sagacrew.crew.emit import emit_files
from sagacrew.crew.pipeline import design

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 3.0


def big_spec(contexts: int = 10, per_context: int = 4, sagas: int = 25) -> dict[str, object]:
    """A spec with ``contexts * per_context`` aggregates and ``sagas`` sagas of 4 steps."""
    spec: dict[str, object] = {"system": "big_shop", "title": "Scale benchmark"}
    context_map: dict[str, object] = {}
    names: list[tuple[str, str]] = []
    for c in range(contexts):
        aggregates: dict[str, object] = {}
        for a in range(per_context):
            name = f"item_{c}_{a}"
            names.append((f"ctx_{c}", name))
            aggregates[name] = {
                "identity": f"{name}_id",
                "fields": {f"{name}_id": "str", "count": "int", "status": "str"},
                "initial": {"count": 100},
                "invariants": [{"name": "count_never_negative", "check": "count >= 0"}],
                "commands": {
                    f"create_{name}": {
                        "kind": "create",
                        "params": ["count"],
                        "sets": {"status": "new"},
                    },
                    f"confirm_{name}": {
                        "kind": "update",
                        "sets": {"status": "confirmed"},
                        "event": "confirmed",
                    },
                    f"reserve_{name}": {"kind": "reserve", "quantity_field": "count"},
                    f"release_{name}": {"kind": "release", "quantity_field": "count"},
                },
            }
        context_map[f"ctx_{c}"] = {"aggregates": aggregates}
    spec["contexts"] = context_map
    saga_map: dict[str, object] = {}
    for s in range(sagas):
        (c1, a1), (c2, a2) = names[s % len(names)], names[(s * 7 + 3) % len(names)]
        saga_map[f"flow_{s}"] = {
            "trigger": f"{c1}.{a1}.create_{a1}",
            "steps": [
                {"name": "create", "invoke": f"{c1}.{a1}.create_{a1}"},
                {"name": "reserve", "invoke": f"{c2}.{a2}.reserve_{a2}"},
                {"name": "confirm", "invoke": f"{c1}.{a1}.confirm_{a1}", "pivot": True},
                {"name": "confirm_other", "invoke": f"{c2}.{a2}.confirm_{a2}"},
            ],
        }
    spec["sagas"] = saga_map
    return spec


def generate_once(spec_path: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    spec = load_spec(spec_path)
    files = emit_files(design(spec, str(spec_path)))
    elapsed = time.perf_counter() - start
    return elapsed, len(files), sum(len(text.encode()) for text in files.values())


def best(spec_path: Path, repeat: int) -> tuple[float, int, int]:
    runs = [generate_once(spec_path) for _ in range(repeat)]
    return min(runs)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_once(spec_path: Path, out_dir: Path, *flags: str) -> tuple[float, float, str]:
    """``sagacrew generate SPEC -o DIR [flags]`` as a fresh process into an empty folder:
    (wall s, CPU s of it and its children, the line saying how the crew ran)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    env = {**os.environ, "CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true"}
    command = [sys.executable, "-m", "sagacrew.crew.cli", "generate", str(spec_path)]
    cpu = _children_cpu_s()
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "-o", str(out_dir), *flags], capture_output=True, text=True, env=env
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sagacrew generate failed:\n{done.stderr[-2000:]}")
    how = next((line for line in done.stdout.splitlines() if line.startswith("crew:")), "")
    return elapsed, _children_cpu_s() - cpu, how


def best_cli(spec_path: Path, out_dir: Path, repeat: int, *flags: str) -> tuple[float, float, str]:
    return min(cli_once(spec_path, out_dir, *flags) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--no-flow-run", action="store_true", help="skip the one run with --flow (crewAI)"
    )
    args = parser.parse_args()
    with_flow = not args.no_flow_run and importlib.util.find_spec("crewai") is not None
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big_shop.yaml"
        big.write_text(yaml.safe_dump(big_spec(), sort_keys=False), "utf-8")
        small_s, small_files, small_bytes = best(
            ROOT / "examples" / "order_fulfilment.yaml", args.repeat
        )
        big_s, big_files, big_bytes = best(big, args.repeat)
        cli_s, cli_cpu_s, how = best_cli(big, Path(tmp) / "out", args.repeat)
        flow = cli_once(big, Path(tmp) / "out_flow", "--flow") if with_flow else None
    kib = 1024
    print(f"order example (4 actors, 1 saga): {small_s:6.2f} s, {small_files} files, ", end="")
    print(f"{small_bytes / kib:.0f} KiB")
    print(f"40 aggregates, 25 sagas:          {big_s:6.2f} s, {big_files} files, ", end="")
    print(f"{big_bytes / kib:.0f} KiB")
    print(f"ratio big/small: {big_s / small_s:.2f}x; ", end="")
    print(f"big in process {against_goal(big_s, GOAL_S)}")
    print(f"`sagacrew generate` of the big spec, whole process: {cli_s:6.2f} s ", end="")
    print(f"(CPU {cli_cpu_s:.2f} s), {how}")
    print(f"  {against_goal(cli_s, GOAL_S)}")
    if flow is not None:
        flow_s, flow_cpu_s, flow_how = flow
        print(f"same with --flow: {flow_s:6.2f} s (CPU {flow_cpu_s:.2f} s), {flow_how}; ", end="")
        print(f"{flow_s / cli_s:.1f}x the default path")
    else:
        print("with --flow: not run (crewAI is not installed, or --no-flow-run)")


if __name__ == "__main__":
    main()
