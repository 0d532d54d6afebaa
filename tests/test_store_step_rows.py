"""A batch keeps each saga's step-log rows in the order its transition gives them, whatever
statement writes them, and a replayed batch writes none of them twice."""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace

from saga_fakes import saga_row
from saga_fakes import step_entry

from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import open_store


def test_a_batch_keeps_each_sagas_rows_in_order_and_a_replay_adds_none(store_url: str) -> None:
    done = step_entry("s-1", 0, "reserve", "forward", "succeeded", ended_at=1.0, result={"a": 1})
    after = step_entry("s-1", 1, "charge", "forward", "started", started_at=1.0)
    failed = step_entry("s-2", 0, "reserve", "forward", "failed", ended_at=1.0, error="boom")
    retry = step_entry("s-2", 0, "reserve", "forward", "started", 2, started_at=2.0)
    first = step_entry("s-3", 0, "reserve", "forward", "started")
    with closing(open_store(store_url)) as store:
        store.apply_saga_transitions(
            [
                SagaTransition(create=saga_row("s-1", "running", 0.0)),
                SagaTransition(create=saga_row("s-2", "running", 0.0)),
            ]
        )
        batch = [
            SagaTransition(step=done, next_step=after),
            SagaTransition(step=failed),
            SagaTransition(create=saga_row("s-3", "running", 0.0), step=first),
        ]
        store.apply_saga_transitions(batch)
        store.apply_saga_transitions([batch[0], batch[1]])  # replayed: nothing twice
        store.apply_saga_transitions([SagaTransition(step=retry)])
        one, two, three = (store.step_log(saga) for saga in ("s-1", "s-2", "s-3"))
    assert [(row.step_index, row.status, row.result) for row in one] == [
        (0, "succeeded", {"a": 1}),
        (1, "started", None),
    ]
    assert [(row.attempt, row.status, row.error) for row in two] == [
        (1, "failed", "boom"),
        (2, "started", None),
    ]
    assert [(row.status, row.ended_at, row.latency_ms, row.error) for row in three] == [
        ("started", None, None, None)
    ]
    assert one[0].seq is not None and one[1].seq is not None and one[0].seq < one[1].seq


def test_a_large_batch_writes_each_row_once_when_part_of_it_is_replayed(store_url: str) -> None:
    # Batches this large go as one COPY per kind of row on PostgreSQL (COPY has no ON
    # CONFLICT: a replayed row sends the batch back to the row-by-row INSERT).
    ids = [f"s-{i:02}" for i in range(12)]
    creates = [SagaTransition(create=saga_row(saga, "running", 1.0)) for saga in ids]
    steps = [
        SagaTransition(
            step=step_entry(
                saga, 0, "reserve", "forward", "succeeded", ended_at=1.0, result={"n": i}
            ),
            next_step=step_entry(saga, 1, "charge", "forward", "started", started_at=1.0),
        )
        for i, saga in enumerate(ids)
    ]
    with closing(open_store(store_url)) as store:
        store.apply_saga_transitions(creates[:4])
        store.apply_saga_transitions(creates)  # the first four replayed
        store.apply_saga_transitions(steps[:5])
        store.apply_saga_transitions(steps)  # the first five replayed
        store.apply_saga_transitions(steps)  # all replayed
        sagas = store.list_sagas()
        logs = [store.step_log(saga) for saga in ids]
    assert [(saga.saga_id, saga.deadline_at, saga.correlation_id) for saga in sagas] == [
        (saga, 61.0, f"c-{saga}") for saga in ids
    ]
    for log, transition in zip(logs, steps, strict=True):
        assert [replace(row, seq=None) for row in log] == [transition.step, transition.next_step]


def test_a_large_batch_whose_later_rows_were_written_before_writes_each_row_once(
    store_url: str,
) -> None:
    # On PostgreSQL the succeeded rows' COPY goes through, then the started rows' COPY
    # meets rows written before: the whole batch is undone and written row by row.
    ids = [f"s-{i:02}" for i in range(12)]
    starts = {
        saga: step_entry(saga, 1, "charge", "forward", "started", started_at=1.0) for saga in ids
    }
    steps = [
        SagaTransition(
            step=step_entry(
                saga, 0, "reserve", "forward", "succeeded", ended_at=1.0, result={"n": i}
            ),
            next_step=starts[saga],
        )
        for i, saga in enumerate(ids)
    ]
    with closing(open_store(store_url)) as store:
        store.apply_saga_transitions(
            [SagaTransition(create=saga_row(saga, "running", 1.0)) for saga in ids]
        )
        store.apply_saga_transitions([SagaTransition(step=starts[saga]) for saga in ids[:5]])
        store.apply_saga_transitions(steps)
        logs = [store.step_log(saga) for saga in ids]
    for saga, log in zip(ids, logs, strict=True):
        statuses = [(row.step_index, row.status) for row in log]
        assert sorted(statuses) == [(0, "succeeded"), (1, "started")], saga
