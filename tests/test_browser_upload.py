"""In a real browser: a PDF chosen in the page's "Add documents" control is saved, indexed by the
watcher, reported ready, and answerable without a restart, cited to its page. The keyword
embedder stands in for the model (the page is what is tested here)."""

from __future__ import annotations

import pytest

from tests import documents_kit as kit
from tests.browser_tools import WAIT_MS, ask, open_page, serving

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect


def test_a_pdf_added_on_the_page_is_answerable_without_a_restart(browser, watched_live, tmp_path):
    live = watched_live
    upload = tmp_path / "orchard.pdf"
    upload.write_bytes(kit.pdf_pages({1: "Nothing here.", 2: "Nor here.",
                                      3: "The cherry orchard lies by the mountain river."}))
    with serving(live) as url:
        page = open_page(browser, url, 390, 844)
        page.locator("#add-documents").get_by_text("Add documents").first.click()
        page.locator("#upload input[type=file]").set_input_files(str(upload))
        status = page.locator("#upload .upload-status li").first
        expect(status).to_contain_text("orchard.pdf is ready", timeout=WAIT_MS)
        page.locator("#upload input[type=file]").set_input_files(str(upload))
        expect(page.locator("#upload .upload-status li").nth(1)).to_contain_text(
            "already exists", timeout=WAIT_MS)
        card = ask(page, "cherry mountain river").locator("article.card").first
        expect(card.locator(".file")).to_have_text("orchard.pdf")
        expect(card.locator(".lines")).to_have_text("page 3")
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                    && ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
            .map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().width
                      + ' ' + (e.textContent || '').slice(0, 60)).slice(0, 8)""")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide
        assert not page.blocked
        page.context.close()
