"""The order example served to a headless Chromium, for the page tests: a store with a
completed saga, a compensated one (authorize_card refused), one whose compensation is
parked as a dead letter, one with a hostile id and a few more for paging.

uvicorn serves the app from a background thread on a socket bound beforehand (so the
browser's connection waits in the backlog until the server accepts it: no sleeping).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from http_helpers import example_app
from http_helpers import uvicorn_thread
from order_example import GENERATED
from order_example import order_input
from web_browser import Browser

from sagacrew.runtime import ScriptedFault
from sagacrew.runtime import ScriptedFaults

HOSTILE_ID = "<img src=x onerror=alert(1)>"
TOKEN = "page-operator-token"
EXTRA_COMPLETED = 3
"""Completed sagas beyond the four named ones (so that pages of two have a third page)."""

RENDERED = (
    "document.getElementById('updated').textContent !== 'never'"
    " && document.querySelector('#timeline li, #saga-rows tr') !== null"
)
"""True once a page has shown its first answer from the API."""

NODES = (
    "Object.fromEntries(Array.from(document.querySelectorAll('#flowchart g.node'))"
    ".map(g => [g.querySelector('title').textContent, Array.from(g.classList)]))"
)
EDGES = (
    "Object.fromEntries(Array.from(document.querySelectorAll('#flowchart g.edge'))"
    ".map(g => [g.querySelector('title').textContent, Array.from(g.classList)]))"
)


@dataclass(frozen=True)
class Site:
    """The served example: the server's URL, the ids of the four named sagas, the browser."""

    base: str
    """The server's root, ``http://127.0.0.1:<port>``."""
    completed: str
    compensated: str
    """Compensated: ``authorize_card`` refused it."""
    dead_lettered: str
    """Refused at ``validate_consumer``; the compensation of ``create_order`` failed three
    times and is parked as a dead letter."""
    hostile: str
    """Completed, with the id :data:`HOSTILE_ID` (markup the pages must show as text)."""
    browser: Browser

    def saga_url(self, saga_id: str) -> str:
        return f"{self.base}/sagas/{quote(saga_id, safe='')}"

    def open_saga(self, saga_id: str, *, width: int = 1200) -> None:
        """Open the saga's page and wait until it shows the saga."""
        self.browser.open(self.saga_url(saga_id), width=width)
        self.browser.wait(RENDERED)

    def nodes(self) -> dict[str, set[str]]:
        """Each flowchart node's CSS classes, by its Graphviz title (step_1, undo_1 ...)."""
        found: dict[str, list[str]] = self.browser.evaluate(NODES)
        return {title: set(classes) for title, classes in found.items()}

    def edges(self) -> dict[str, set[str]]:
        """Each flowchart edge's CSS classes, by its Graphviz title (``step_1->step_2``)."""
        found: dict[str, list[str]] = self.browser.evaluate(EDGES)
        return {title: set(classes) for title, classes in found.items()}

    def taken(self) -> set[str]:
        """The edges drawn as the path the saga took."""
        return {title for title, classes in self.edges().items() if "taken" in classes}

    def api(self, path: str) -> Any:
        """A GET of the API from the page's own origin (what the page sees)."""
        return self.browser.evaluate(
            f"fetch({json.dumps(self.base + path)}, {{cache: 'no-store'}}).then(r => r.json())"
        )


async def _run_sagas(store_url: str) -> tuple[str, str, str, str]:
    faults = ScriptedFaults()
    system = GENERATED.package.build_system(store_url, faults=faults)
    async with system:
        for index in range(EXTRA_COMPLETED):
            await system.run_saga("create_order", order_input(100 + index))
        completed = await system.run_saga("create_order", order_input(1))
        faults.add(ScriptedFault("create_order", "authorize_card"))
        compensated = await system.run_saga("create_order", order_input(2))
        faults.clear()
        faults.add(ScriptedFault("create_order", "validate_consumer"))
        faults.add(
            ScriptedFault(
                "create_order", "create_order", phase="compensation", retriable=True, times=3
            )
        )
        dead_lettered = await system.run_saga("create_order", order_input(3))
        faults.clear()
        hostile = await system.run_saga("create_order", order_input(4), saga_id=HOSTILE_ID)
    system.store.close()
    return completed.saga_id, compensated.saga_id, dead_lettered.saga_id, hostile.saga_id


@contextmanager
def served_site(folder: Path) -> Iterator[Site]:
    """The sagas above run into a SQLite store in ``folder``, then served (operator token
    :data:`TOKEN`, no faults: a redrive succeeds) to one headless Chromium."""
    store_url = f"sqlite:///{folder / 'state.db'}"
    completed, compensated, dead_lettered, hostile = asyncio.run(_run_sagas(store_url))
    system = GENERATED.package.build_system(store_url)
    try:
        with (
            uvicorn_thread(example_app(system, TOKEN)) as base,
            Browser(folder / "chromium-profile") as browser,
        ):
            yield Site(
                base=base,
                completed=completed,
                compensated=compensated,
                dead_lettered=dead_lettered,
                hostile=hostile,
                browser=browser,
            )
    finally:
        system.store.close()


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height, from its IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
