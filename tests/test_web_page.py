"""The live web page in a real headless Chromium: nodes coloured by state, summary, escaping.

uvicorn serves the app from a background thread on a socket bound beforehand (so the
browser's connection waits in the backlog until the server accepts it: no sleeping).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from http_helpers import example_app, uvicorn_thread
from order_example import GENERATED

from sagacrew.runtime import ScriptedFault, ScriptedFaults

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE_ID = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="install chromium (apt-get install chromium)"
)


@dataclass(frozen=True)
class Site:
    base: str
    completed: str
    compensated: str
    hostile: str
    profile: Path


def order(index: int) -> dict[str, object]:
    return {
        "order_id": f"o-{index}",
        "consumer_id": f"c-{index}",
        "ticket_id": f"t-{index}",
        "total_cents": 1200,
    }


async def _run_sagas(store_url: str) -> tuple[str, str, str]:
    faults = ScriptedFaults()
    system = GENERATED.package.build_system(store_url, faults=faults)
    async with system:
        completed = await system.run_saga("create_order", order(1))
        faults.add(ScriptedFault("create_order", "authorize_card"))
        compensated = await system.run_saga("create_order", order(2))
        faults.clear()
        hostile = await system.run_saga("create_order", order(3), saga_id=HOSTILE_ID)
    system.store.close()
    return completed.saga_id, compensated.saga_id, hostile.saga_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    store_url = f"sqlite:///{folder / 'state.db'}"
    completed, compensated, hostile = asyncio.run(_run_sagas(store_url))
    system = GENERATED.package.build_system(store_url)
    try:
        with uvicorn_thread(example_app(system, None)) as base:
            yield Site(
                base=base,
                completed=completed,
                compensated=compensated,
                hostile=hostile,
                profile=folder / "chromium-profile",
            )
    finally:
        system.store.close()


def chromium(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={site.profile}",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)


def dump_dom(site: Site, saga_id: str) -> str:
    return chromium(site, "--dump-dom", f"{site.base}/sagas/{quote(saga_id, safe='')}").stdout


def node_classes(dom: str) -> dict[str, set[str]]:
    """Each flowchart node's CSS classes, by its Graphviz ``<title>`` (step_1, undo_1 ...)."""
    found = re.findall(r'<g\b[^>]*\bclass="([^"]*)"[^>]*>\s*<title>([^<]*)</title>', dom)
    return {title: set(classes.split()) for classes, title in found if "node" in classes.split()}


def text_of(dom: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', dom)
    assert match is not None, f"#{element_id} is missing from the page"
    return match.group(1)


def test_page_colours_every_step_of_a_completed_saga_succeeded(site: Site) -> None:
    dom = dump_dom(site, site.completed)
    nodes = node_classes(dom)
    for k in range(1, 7):
        assert "state-succeeded" in nodes[f"step_{k}"], (k, nodes[f"step_{k}"])
    assert "state-reached" in nodes["completed"]
    for other in ("compensated", "compensation_failed", "stalled"):
        assert "state-unreached" in nodes[other]
    assert text_of(dom, "summary") == "6 of 6 steps complete"
    assert text_of(dom, "state") == "completed"


def test_page_colours_the_nodes_of_a_compensated_saga_by_their_live_state(site: Site) -> None:
    dom = dump_dom(site, site.compensated)
    nodes = node_classes(dom)
    assert "state-compensated" in nodes["step_1"]
    assert "state-succeeded" in nodes["step_2"]
    assert "state-compensated" in nodes["step_3"]
    assert "state-failed" in nodes["step_4"]
    assert "state-pending" in nodes["step_5"] and "state-pending" in nodes["step_6"]
    assert "state-compensated" in nodes["undo_1"] and "state-compensated" in nodes["undo_3"]
    assert "state-reached" in nodes["compensated"]
    assert text_of(dom, "summary") == "3 of 6 steps complete"
    assert dom.count('class="step state-') == 6


def test_page_shows_a_hostile_saga_id_as_text_never_as_markup(site: Site) -> None:
    dom = dump_dom(site, site.hostile)
    assert text_of(dom, "saga-id") == "&lt;img src=x onerror=alert(1)&gt;"
    assert "<img" not in dom
    assert text_of(dom, "summary") == "6 of 6 steps complete"


def test_page_screenshot_is_written(site: Site, tmp_path: Path) -> None:
    png = tmp_path / "page.png"
    chromium(
        site,
        f"--screenshot={png}",
        "--window-size=1200,900",
        f"{site.base}/sagas/{site.compensated}",
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
