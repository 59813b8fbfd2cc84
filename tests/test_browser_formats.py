"""PDF passages in a real browser (Debian's Chromium): the card cites the page, and "Open the
source" shows that page rendered, the passage and its supporting sentence marked over the very
words, at desktop and phone width. With RAG_WRITE_SCREENSHOTS=1 it also writes docs/pdf-source.png."""

from __future__ import annotations

import os

import pytest

from rag.config import Settings
from rag.index import ensure_index
from tests.browser_tools import WAIT_MS, ask, open_page, serving
from tests.conftest import ROOT
from tests.test_formats_integration import make_folder

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api", reason="pip install playwright")
QUESTION = "How many ships did the lighthouse keeper count during the storm?"


@pytest.fixture(scope="module")
def server(embedder, tmp_path_factory):
    docs = make_folder(tmp_path_factory.mktemp("browser-formats"))
    settings = Settings.from_env(environ={}, docs_dir=docs,
                                 index_dir=tmp_path_factory.mktemp("browser-formats-index"))
    with serving(ensure_index(settings, embedder=embedder)) as url:
        yield url


def open_source(browser, server, width, height):
    page = open_page(browser, server, width, height)
    card = ask(page, QUESTION).locator("article.card").first
    assert card.locator(".file").inner_text() == "coast.pdf"
    assert card.locator(".lines").inner_text() == "page 3"
    card.get_by_text("Open the source").click()
    page.locator("#source-panel").wait_for(state="visible")
    frame = page.frame(name="source-view")
    frame.wait_for_function(
        "() => { const i = document.querySelector('figure[data-page=\"3\"] img');"
        " return i && i.complete && i.naturalWidth > 0; }", timeout=WAIT_MS)
    return page, frame


def boxes_on_image(frame):
    return frame.evaluate("""() => {
        const img = document.querySelector('figure[data-page="3"] img').getBoundingClientRect();
        return [...document.querySelectorAll('figure[data-page="3"] .box')].map(b => {
            const r = b.getBoundingClientRect();
            return {kind: b.classList.contains('support') ? 'support' : 'passage',
                    inside: r.left >= img.left - 1 && r.right <= img.right + 1 &&
                            r.top >= img.top - 1 && r.bottom <= img.bottom + 1,
                    area: r.width * r.height, top: r.top - img.top, imgHeight: img.height};
        });
    }""")


@pytest.mark.parametrize("width,height", [(1100, 900), (390, 844)])
def test_open_the_source_shows_page_three_with_the_sentence_marked(browser, server, width, height):
    page, frame = open_source(browser, server, width, height)
    try:
        assert frame.locator("figure.page").count() == 1
        assert frame.locator("header").inner_text().startswith("coast.pdf · page 3")
        boxes = boxes_on_image(frame)
        kinds = {b["kind"] for b in boxes}
        assert kinds == {"passage", "support"}
        assert all(b["inside"] and b["area"] > 0 for b in boxes)
        assert all(b["top"] < 0.25 * b["imgHeight"] for b in boxes)  # the paragraph's place
        # the supporting sentence is the lighthouse sentence: its text is marked below too
        assert "forty-two ships" in frame.locator("mark#passage-text strong").first.inner_text()
        assert frame.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        if width == 390:
            assert page.locator("#source-panel").bounding_box()["width"] == 390
        elif os.environ.get("RAG_WRITE_SCREENSHOTS"):
            page.screenshot(path=str(ROOT / "docs" / "pdf-source.png"))
        assert page.blocked == []
    finally:
        page.context.close()
