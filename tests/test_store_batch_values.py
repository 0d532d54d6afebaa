"""A batch of transitions refuses the values a store cannot hold the same way a single
write does, on both backends, and writes nothing of it."""

from __future__ import annotations

from contextlib import closing

import pytest
from saga_fakes import saga_row
from saga_fakes import step_entry

from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import StoreError
from sagacrew.runtime.store import open_store


def _batch(**columns: object) -> list[SagaTransition]:
    first = step_entry("s-1", 0, "reserve", "forward", "started", **columns)
    return [SagaTransition(create=saga_row("s-1", "running", 0.0), step=first)]


@pytest.mark.parametrize(
    ("columns", "refusal"),
    [
        ({"error": "bad\x00text"}, "NUL character"),
        ({"attempt": 2**63}, "does not fit in 64 bits"),
    ],
)
def test_a_batch_with_a_value_the_store_cannot_hold_is_refused_and_writes_nothing(
    store_url: str, columns: dict[str, object], refusal: str
) -> None:
    with closing(open_store(store_url)) as store:
        with pytest.raises(StoreError, match=refusal):
            store.apply_saga_transitions(_batch(**columns))
        assert store.get_saga("s-1") is None
