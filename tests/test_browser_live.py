"""In a real browser: after the app switches to a new build, an open page's status line and its
Advanced documents list show the new build without a reload, and answers come from it. The
keyword embedder stands in for the model (the page is what is tested here)."""

from __future__ import annotations

import pytest

from rag.index import open_index
from rag.live import LiveIndex
from rag.store.build import build_index
from tests.browser_tools import WAIT_MS, ask, open_page, serving

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect


def test_an_open_page_follows_a_new_build(browser, tiny_settings, keyword_embedder):
    build_index(tiny_settings, embedder=keyword_embedder)
    live = LiveIndex(open_index(settings=tiny_settings, embedder=keyword_embedder))
    with serving(live) as url:
        page = open_page(browser, url, 1100, 900)
        status = page.locator(".status")
        expect(status).to_contain_text("Indexed: 2 documents")
        page.locator("#advanced").get_by_text("Advanced").click()
        expect(page.get_by_label("travel.md")).to_be_visible()
        expect(page.get_by_label("sea.txt")).to_have_count(0)

        (tiny_settings.docs_dir / "sea.txt").write_text(
            "The banana boat sails to the sea.\n", encoding="utf-8")
        build_index(tiny_settings, embedder=keyword_embedder, force=False)
        # No question asked, no reload: the page's periodic check shows the new build.
        expect(status).to_contain_text("Indexed: 3 documents", timeout=WAIT_MS)
        expect(page.get_by_label("sea.txt")).to_be_visible()

        page.get_by_label("sea.txt").check()
        answer = ask(page, "banana boat river")
        expect(answer.locator("article.card").first.locator(".file")).to_have_text("sea.txt")

        (tiny_settings.docs_dir / "sea.txt").unlink()
        build_index(tiny_settings, embedder=keyword_embedder, force=False)
        expect(status).to_contain_text("Indexed: 2 documents", timeout=WAIT_MS)
        expect(page.get_by_label("sea.txt")).to_have_count(0)
        assert not page.blocked
        page.context.close()
