"""The saga page in a real headless Chromium: nodes coloured by state, the path the saga
took, why it failed, each step's facts, the timeline, names, escaping and a screenshot."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_browser import CHROMIUM
from web_site import Site
from web_site import png_size
from web_site import served_site

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="install chromium (apt-get install chromium)"
)

ROOT = Path(__file__).resolve().parent.parent
DOCS_ENV = "SAGACREW_UPDATE_SCREENSHOTS"
"""Set to 1 to copy the screenshots into docs/ (the README's images)."""

FORWARD = ["start->step_1", *(f"step_{k}->step_{k + 1}" for k in range(1, 6))]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with served_site(tmp_path_factory.mktemp("web")) as served:
        yield served


def test_page_colours_every_step_of_a_completed_saga_succeeded(site: Site) -> None:
    site.open_saga(site.completed)
    nodes = site.nodes()
    for k in range(1, 7):
        assert "state-succeeded" in nodes[f"step_{k}"], (k, nodes[f"step_{k}"])
    assert "state-reached" in nodes["completed"]
    for other in ("compensated", "compensation_failed", "stalled"):
        assert "state-unreached" in nodes[other]
    assert site.browser.text("#summary") == "6 of 6 steps complete"
    assert site.browser.text("#state") == "completed"
    assert site.browser.evaluate("document.getElementById('failure').hidden") is True


def test_completed_saga_takes_the_forward_path_and_its_undos_are_neutral(site: Site) -> None:
    site.open_saga(site.completed)
    assert site.taken() == {*FORWARD, "step_6->completed"}
    nodes = site.nodes()
    for undo in ("undo_1", "undo_3"):  # never ran: neutral, not the failure colour
        assert "state-not_run" in nodes[undo] and "on-path" not in nodes[undo]
    edges = site.edges()
    assert "not-taken" in edges["step_4->undo_3"] and "taken" not in edges["step_4->undo_3"]
    colours = site.browser.evaluate(
        "(() => { const g = [...document.querySelectorAll('#flowchart g.node')]"
        ".find(n => n.querySelector('title').textContent === 'undo_1');"
        " const s = getComputedStyle(g.querySelector('path'));"
        " return [s.fill, s.stroke]; })()"
    )
    failure_colours = {"rgb(248, 215, 218)", "rgb(198, 40, 40)", "rgb(253, 226, 226)"}
    assert not failure_colours & set(colours), colours


def test_compensated_saga_shows_why_it_failed_and_the_path_it_took(site: Site) -> None:
    site.open_saga(site.compensated)
    nodes = site.nodes()
    assert "state-compensated" in nodes["step_1"]
    assert "state-succeeded" in nodes["step_2"]
    assert "state-compensated" in nodes["step_3"]
    assert "state-failed" in nodes["step_4"]
    assert "state-pending" in nodes["step_5"] and "state-pending" in nodes["step_6"]
    assert "state-compensated" in nodes["undo_1"] and "state-compensated" in nodes["undo_3"]
    assert "state-reached" in nodes["compensated"]
    assert site.taken() == {
        *FORWARD[:4],
        "step_4->undo_3",
        "undo_3->undo_1",
        "undo_1->compensated",
    }
    edges = site.edges()
    assert "kind-failure" in edges["step_4->undo_3"]
    assert "not-taken" in edges["step_1->compensated"]  # another step's failure edge
    reason = (
        "authorize_card refused: injected business failure of forward authorize_card (attempt 1)"
    )
    assert site.browser.text("#summary") == f"compensated after step 4 of 6 ({reason})"
    assert site.browser.text("#failure-reason") == reason
    assert site.browser.evaluate("document.getElementById('failure').hidden") is False
    assert site.browser.evaluate("document.querySelectorAll('#steps li.step').length") == 6


def test_steps_say_undo_step_and_their_facts_never_internal_names(site: Site) -> None:
    site.open_saga(site.compensated)
    steps = site.browser.evaluate(
        "[...document.querySelectorAll('#steps li.step')].map(li => li.textContent)"
    )
    assert "undo create_order: done" in steps[0]
    assert "undo create_ticket: done" in steps[2]
    assert "injected business failure of forward authorize_card" in steps[3]
    page_text = site.browser.evaluate("document.body.innerText")
    assert "undo create_order" in page_text
    assert not re.search(r"\._?delete\b|\b_delete\b|\b_restore\b", page_text), page_text
    chart_text = site.browser.evaluate("document.querySelector('#flowchart svg').textContent")
    assert "undo create_order" in chart_text and "_delete" not in chart_text


def test_step_names_break_only_between_words(site: Site) -> None:
    site.open_saga(site.compensated, width=560)
    names = site.browser.evaluate(
        "[...document.querySelectorAll('#steps .step-name')].map(n => n.innerHTML)"
    )
    assert names[0] == "create_<wbr>order"
    assert names[1] == "validate_<wbr>consumer"
    # Each part between the <wbr>s is on one line: no word is split.
    lines = site.browser.evaluate(
        "[...document.querySelectorAll('#steps .step-name')].map(n => {"
        " const r = document.createRange(); return [...n.childNodes]"
        ".filter(c => c.nodeType === 3).map(t => { r.selectNodeContents(t);"
        " return r.getClientRects().length; }); })"
    )
    assert all(count == 1 for parts in lines for count in parts), lines
    css = (ROOT / "runtime" / "api" / "static" / "style.css").read_text("utf-8")
    assert "anywhere" not in css and "break-all" not in css


def test_timeline_lists_every_transition_with_its_time(site: Site) -> None:
    site.open_saga(site.compensated)
    status = site.api(f"/api/sagas/{site.compensated}/status")
    shown = site.browser.evaluate(
        "[...document.querySelectorAll('#timeline li')].map(li => ["
        "li.querySelector('time').getAttribute('datetime'), li.querySelector('.what').textContent])"
    )
    assert shown == [[entry["at"], entry["text"]] for entry in status["timeline"]]
    assert shown[0][1] == "create_order started"
    assert shown[-1][1] == "saga compensated"
    assert any(text.startswith("undo create_order succeeded") for _, text in shown)


def test_page_shows_a_hostile_saga_id_as_text_never_as_markup(site: Site) -> None:
    site.open_saga(site.hostile)
    assert site.browser.text("#saga-id") == "<img src=x onerror=alert(1)>"
    assert site.browser.evaluate("document.querySelectorAll('img').length") == 0
    assert "<img src=x" not in site.browser.dom().replace("&lt;img src=x", "")
    assert site.browser.text("#summary") == "6 of 6 steps complete"


def test_saga_page_screenshot_shows_the_highlighted_path(site: Site, tmp_path: Path) -> None:
    site.open_saga(site.compensated)
    png = tmp_path / "status-page.png"
    data = site.browser.screenshot(png)
    width, height = png_size(data)
    assert width == 1200 and height >= 900
    assert len(data) > 30_000
    if os.environ.get(DOCS_ENV) == "1":
        shutil.copyfile(png, ROOT / "docs" / "status-page.png")
