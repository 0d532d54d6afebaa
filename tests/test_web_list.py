"""The saga list page in a real headless Chromium: counts per state, the duration column,
paging and the filters (state, failure reason), kept in the page's address."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_browser import CHROMIUM
from web_site import EXTRA_COMPLETED
from web_site import RENDERED
from web_site import Site
from web_site import png_size
from web_site import served_site

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="install chromium (apt-get install chromium)"
)

ROOT = Path(__file__).resolve().parent.parent
TOTAL = EXTRA_COMPLETED + 4
ROWS = "document.querySelectorAll('#saga-rows tr').length"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with served_site(tmp_path_factory.mktemp("web-list")) as served:
        yield served


def open_list(site: Site, query: str = "") -> None:
    site.browser.open(f"{site.base}/{query}")
    site.browser.wait(RENDERED)


def test_counts_show_how_many_sagas_are_in_each_state(site: Site) -> None:
    open_list(site)
    shown = site.browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#counts button[data-state]')]"
        ".map(b => [b.dataset.state, Number(b.querySelector('.n').textContent)]))"
    )
    assert shown == site.api("/api/sagas")["counts"]
    assert (shown["completed"], shown["compensated"], shown["compensation_failed"]) == (
        EXTRA_COMPLETED + 2,
        1,
        1,
    )
    assert site.browser.text("#counts li:first-child button") == f"all {TOTAL}"


def test_rows_have_a_duration_and_failed_sagas_their_reason(site: Site) -> None:
    open_list(site)
    rows = site.browser.evaluate(
        "[...document.querySelectorAll('#saga-rows tr')].map(tr =>"
        " [...tr.children].map(td => td.textContent))"
    )
    assert len(rows) == TOTAL
    assert all(re.fullmatch(r"\d+ ms|\d+\.\d+ s", row[5]) for row in rows), rows
    by_id = {row[1]: row for row in rows}
    assert by_id[site.compensated][3].startswith("authorize_card refused: injected")
    assert by_id[site.completed][3] == "6 of 6 steps complete"


def test_pages_of_two_go_older_and_newer_and_stay_in_the_address(site: Site) -> None:
    open_list(site, "?limit=2")
    browser = site.browser
    assert browser.evaluate(ROWS) == 2
    assert browser.text("#page-range") == "sagas 1–2"
    assert browser.evaluate("document.getElementById('newer').disabled") is True
    newest = browser.evaluate("[...document.querySelectorAll('#saga-rows a')].map(a => a.text)")
    seen = list(newest)
    while not browser.evaluate("document.getElementById('older').disabled"):
        first = len(seen) + 1
        browser.click("#older")
        browser.wait(
            f"document.getElementById('page-range').textContent.startsWith('sagas {first}–')"
        )
        seen += browser.evaluate("[...document.querySelectorAll('#saga-rows a')].map(a => a.text)")
    assert len(seen) == len(set(seen)) == TOTAL
    assert browser.evaluate("location.search") == f"?offset={TOTAL - 1}&limit=2"
    browser.click("#newer")
    browser.wait(
        f"document.getElementById('page-range').textContent === 'sagas {TOTAL - 2}–{TOTAL - 1}'"
    )


def test_failure_reason_filter_shows_only_matching_sagas(site: Site) -> None:
    open_list(site)
    browser = site.browser
    browser.type_into("#filter-reason", "failure of forward AUTHORIZE_card")
    browser.wait(f"{ROWS} === 1")
    assert browser.text("#saga-rows a") == site.compensated
    assert browser.evaluate("location.search") == "?reason=failure+of+forward+AUTHORIZE_card"
    browser.type_into("#filter-reason", "no saga failed like this")
    browser.wait(f"{ROWS} === 0 && !document.getElementById('empty').hidden")


def test_a_state_count_filters_the_list_by_that_state(site: Site) -> None:
    open_list(site)
    browser = site.browser
    browser.click("#counts button[data-state='compensation_failed']")
    browser.wait(f"{ROWS} === 1")
    assert browser.text("#saga-rows a") == site.dead_lettered
    assert browser.evaluate("document.getElementById('filter-state').value") == (
        "compensation_failed"
    )
    browser.click("#counts li:first-child button")
    browser.wait(f"{ROWS} === {TOTAL}")


def test_list_page_screenshot_is_written(site: Site, tmp_path: Path) -> None:
    open_list(site)
    png = tmp_path / "saga-list.png"
    data = site.browser.screenshot(png)
    assert png_size(data)[0] == 1200
    assert len(data) > 20_000
    if os.environ.get("SAGACREW_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(png, ROOT / "docs" / "saga-list.png")
