"""Generator speed at scale: a 40-aggregate, 25-saga spec against the order example.

    python bench/bench_generate.py [--repeat N]

Both are loaded, validated, designed by the four agents (without crewAI's Flow, whose
import alone costs ~3 s) and emitted (templates + ruff formatting), in the same run.
Prints each time (best of ``--repeat``), the output size, the ratio big/small, and the big
spec's time against the 3 s goal.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big_shop.yaml"
        big.write_text(yaml.safe_dump(big_spec(), sort_keys=False), "utf-8")
        small_s, small_files, small_bytes = best(
            ROOT / "examples" / "order_fulfilment.yaml", args.repeat
        )
        big_s, big_files, big_bytes = best(big, args.repeat)
    kib = 1024
    print(f"order example (4 actors, 1 saga): {small_s:6.2f} s, {small_files} files, ", end="")
    print(f"{small_bytes / kib:.0f} KiB")
    print(f"40 aggregates, 25 sagas:          {big_s:6.2f} s, {big_files} files, ", end="")
    print(f"{big_bytes / kib:.0f} KiB")
    print(f"ratio big/small: {big_s / small_s:.2f}x; ", end="")
    print(f"big {against_goal(big_s, GOAL_S)}")


if __name__ == "__main__":
    main()
