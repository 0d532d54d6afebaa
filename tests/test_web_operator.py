"""Operator actions from the page in a real headless Chromium: the page asks for the
operator token, keeps it in this tab's sessionStorage only, pauses and resumes new sagas
and redrives a dead letter; a refused token is forgotten."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from web_browser import CHROMIUM
from web_site import RENDERED
from web_site import TOKEN
from web_site import Site
from web_site import served_site

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="install chromium (apt-get install chromium)"
)

STORED = "sessionStorage.getItem('sagacrew.operator-token')"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with served_site(tmp_path_factory.mktemp("web-operator")) as served:
        yield served


def use_token(site: Site, token: str) -> None:
    site.browser.type_into("#token", token)
    site.browser.evaluate("document.getElementById('token-form').requestSubmit()")
    site.browser.wait(f"{STORED} === {json.dumps(token)}")


def forget_token(site: Site) -> None:
    if site.browser.evaluate(STORED) is not None:
        site.browser.click("#forget")
    site.browser.wait(f"{STORED} === null")


def test_pause_asks_for_the_token_first_and_changes_nothing_without_it(site: Site) -> None:
    site.browser.open(f"{site.base}/")
    site.browser.wait(RENDERED)
    forget_token(site)
    site.browser.wait("!document.getElementById('pause').hidden")
    site.browser.click("#pause")
    site.browser.wait("document.getElementById('notice').textContent.includes('operator token')")
    assert site.browser.evaluate("document.getElementById('token-form').hidden") is False
    assert site.api("/healthz")["paused"] is False


def test_a_refused_token_is_forgotten_and_asked_for_again(site: Site) -> None:
    site.browser.open(f"{site.base}/")
    site.browser.wait(RENDERED)
    use_token(site, "not-the-token")
    site.browser.click("#pause")
    site.browser.wait(f"{STORED} === null")
    assert "refused the operator token" in site.browser.text("#notice")
    assert site.api("/healthz")["paused"] is False


def test_pause_and_resume_with_the_token_kept_in_this_tab_only(site: Site) -> None:
    browser = site.browser
    browser.open(f"{site.base}/")
    browser.wait(RENDERED)
    use_token(site, TOKEN)
    assert browser.evaluate("document.getElementById('token-set').hidden") is False
    assert browser.evaluate("localStorage.length") == 0
    assert browser.evaluate("document.cookie") == ""
    browser.click("#pause")
    browser.wait("document.getElementById('intake').textContent === 'new sagas paused'")
    assert site.api("/healthz")["paused"] is True
    browser.wait("!document.getElementById('resume').hidden")
    browser.click("#resume")
    browser.wait("document.getElementById('intake').textContent === 'new sagas accepted'")
    assert site.api("/healthz")["paused"] is False
    forget_token(site)
    assert browser.evaluate("document.getElementById('token-form').hidden") is False


def test_redrive_of_a_dead_letter_from_the_saga_page_finishes_the_compensation(
    site: Site,
) -> None:
    browser = site.browser
    site.open_saga(site.dead_lettered)
    assert browser.text("#state") == "compensation failed"
    (letter,) = site.api(f"/api/sagas/{site.dead_lettered}/status")["dead_letters"]
    assert browser.text("#dead-letters li").startswith(f"dead letter #{letter}: undo create_order")
    nodes = site.nodes()
    assert "state-dead_lettered" in nodes["undo_1"]
    assert "state-not_run" in nodes["undo_3"]  # create_ticket never ran: nothing to undo
    assert site.taken() == {
        "start->step_1",
        "step_1->step_2",
        "step_2->undo_1",
        "undo_1->compensation_failed",
    }
    use_token(site, TOKEN)
    browser.click(f"button[data-dead-letter='{letter}']")
    browser.wait("document.getElementById('state').textContent === 'compensated'")
    assert browser.text("#notice") == f"Dead letter #{letter} redriven: saga compensated."
    browser.wait("document.getElementById('held').hidden")
    assert "state-compensated" in site.nodes()["undo_1"]
    assert site.taken() == {
        "start->step_1",
        "step_1->step_2",
        "step_2->undo_1",
        "undo_1->compensated",
    }
    timeline = browser.evaluate(
        "[...document.querySelectorAll('#timeline .what')].map(n => n.textContent)"
    )
    assert f"dead letter #{letter} redriven by an operator" in timeline
    forget_token(site)
