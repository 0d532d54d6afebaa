"""A persistent actor killed with SIGKILL recovers the same state from its store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

WORKER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from sagacrew.runtime import ActorSystem, AggregateActor, CommandHandler, Envelope, open_store

    class Counter(AggregateActor):
        address = "demo.counter"
        identity = "counter_id"
        fields = {"counter_id": "str", "total": "int"}
        snapshot_every = 3
        commands = {
            "open": CommandHandler(kind="create", event="demo.counter.created", params=()),
            "add": CommandHandler(kind="release", event="demo.counter.added",
                                  quantity_field="total"),
        }

    async def main(db, acks, kill_after):
        store = open_store("sqlite://" + db)
        system = ActorSystem("worker")
        ref = await system.spawn(lambda: Counter(store), "demo.counter")
        origin = Envelope.origin("open", {"counter_id": "c1"})
        await ref.ask(origin)
        for n in range(1, 1000):
            command = origin.caused("add", {"counter_id": "c1", "amount": n},
                                    idempotency_key=f"add-{n}")
            await ref.ask(command)
            with open(acks, "a") as f:   # acknowledged only after the actor replied
                f.write(f"{n}\\n")
            if n == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    if __name__ == "__main__":
        asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)

RECOVER = textwrap.dedent(
    """
    import json, sys
    from sagacrew.runtime import open_store
    sys.path.insert(0, sys.argv[2])
    from worker import Counter
    store = open_store("sqlite://" + sys.argv[1])
    state, version, exists = Counter(store).replay("c1")
    snapshot = store.load_snapshot("demo.counter:c1")
    print(json.dumps({"total": state["total"], "version": version, "exists": exists,
                      "snapshot_version": snapshot.version if snapshot else 0}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [4, 7])
def test_persistent_actor_recovers_the_same_state_after_kill_9(
    tmp_path: Path, kill_after: int
) -> None:
    (tmp_path / "worker.py").write_text(
        WORKER,
        "utf-8",
    )
    db, acks = tmp_path / "counter.db", tmp_path / "acks.txt"
    done = subprocess.run(
        [sys.executable, str(tmp_path / "worker.py"), str(db), str(acks), str(kill_after)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    acknowledged = [int(line) for line in acks.read_text().split()]
    assert acknowledged == list(range(1, kill_after + 1))
    recovered = subprocess.run(
        [sys.executable, "-c", RECOVER, str(db), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert recovered.returncode == 0, recovered.stderr
    result = json.loads(recovered.stdout)
    assert result["exists"]
    assert result["total"] == sum(acknowledged)
    assert result["version"] == kill_after + 1
    assert result["snapshot_version"] == 3 * ((kill_after + 1) // 3)
