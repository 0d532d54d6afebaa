"""SAGA-L004: polling loops instead of completion events (the seed's GAP-007)."""

from pathlib import Path

from sagacrew.agents.validator import lint_path
from sagacrew.agents.validator import lint_source

DATA = Path(__file__).parent / "data" / "lint"


def test_seed_five_second_polling_loop_and_inner_async_poll_are_reported() -> None:
    findings = lint_path(DATA / "polling.py")
    assert [(f.rule, f.line, f.column) for f in findings] == [
        ("SAGA-L004", 10, 5),
        ("SAGA-L004", 21, 9),
    ]
    assert findings[0].message == "polling loop: sleeps every 5 s (line 14) and re-checks a status"
    assert findings[0].fix == (
        "wait for the completion event (declare completion_event on the operation) "
        "instead of polling"
    )


def test_retry_backoff_without_status_check_and_sleep_zero_are_not_polling() -> None:
    lines = [f.line for f in lint_path(DATA / "polling.py")]
    assert 30 not in lines
    assert 42 not in lines


def test_status_check_in_while_test_with_sleep_is_polling() -> None:
    source = "import time\ndef wait(job):\n    while not job.done():\n        time.sleep(1)\n"
    [finding] = lint_source(source)
    assert (finding.rule, finding.line) == ("SAGA-L004", 3)


def test_sleep_in_a_nested_function_does_not_make_the_outer_loop_polling() -> None:
    source = (
        "import asyncio\n"
        "for status in statuses:\n"
        "    async def later():\n"
        "        await asyncio.sleep(1)\n"
    )
    assert lint_source(source) == []


def test_bare_status_save_statement_is_not_a_status_check() -> None:
    source = (
        "import asyncio\n"
        "async def loop(store, item, delay_s):\n"
        "    while True:\n"
        "        await store.save_state(item)\n"
        "        await asyncio.sleep(delay_s)\n"
    )
    assert lint_source(source) == []
