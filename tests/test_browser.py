"""The web page in a real browser (Debian's Chromium through Playwright), over the seeds plus one
hostile document, with the real model: what a person sees and clicks.

Skipped with an install hint when /usr/bin/chromium is absent (`apt-get install chromium`).
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.browser_tools import WAIT_MS, ask, open_page, serving
from tests.conftest import SEEDS

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

RUTTE = "What did NATO's Secretary General say about North Korean troops in Ukraine?"
OFF_TOPIC = "How long should sourdough bread rise before baking?"
HOSTILE = "zz_hostile.md"
HOSTILE_TEXT = """# Aquarium notes <script>window.__pwned = 'heading'</script>

The zebra aquarium of Lisbon opened its shark tunnel in 1998 <script>window.__pwned = 'script'</script>
and <img src="x" onerror="window.__pwned = 'img'"> says <b>bold</b> things, **markdown**,
[a link](javascript:window.__pwned='link'), ${window.__pwned = 'template'} and {{value}}.
"""


@pytest.fixture(scope="module")
def web_index(embedder, tmp_path_factory):
    """The seeds plus a document full of markup, indexed with the real model."""
    from rag.config import Settings
    from rag.index import ensure_index

    docs = tmp_path_factory.mktemp("web-docs")
    for path in SEEDS.iterdir():
        shutil.copy(path, docs / path.name)
    (docs / HOSTILE).write_text(HOSTILE_TEXT, encoding="utf-8")
    settings = Settings.from_env(environ={}, docs_dir=docs,
                                 index_dir=tmp_path_factory.mktemp("web-index"))
    return ensure_index(settings, embedder=embedder)


@pytest.fixture(scope="module")
def server(web_index):
    with serving(web_index) as url:
        yield url


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server)
    yield page
    page.context.close()


def test_first_visit_shows_status_examples_and_a_guide(page):
    assert "Indexed: 6 documents" in page.locator(".status").inner_text()
    assert "all-MiniLM-L6-v2" in page.locator(".status").inner_text()
    assert "Ask a question about the documents" in page.locator("#conversation").inner_text()
    example = "In which earlier war did North Korean pilots secretly fight?"
    page.get_by_text(example).click()
    expect(page.locator("#question textarea")).to_have_value(example, timeout=WAIT_MS)
    assert page.blocked == []  # the page fetches nothing from outside the server


def test_an_answer_is_cards_with_file_lines_and_the_highlighted_sentence(page):
    answer = ask(page, RUTTE)
    card = answer.locator("article.card").first
    assert card.locator(".file").inner_text() == "004_5d5c85c0ad26f8dd.txt"
    assert card.locator(".lines").inner_text().startswith("line")
    assert "strong match" in card.locator(".meter").inner_text()
    assert "Mark Rutte" in card.locator("mark").first.inner_text()
    assert "don't answer" not in answer.inner_text()
    assert page.errors == []


def test_an_off_topic_question_is_refused_with_low_confidence_passages(page):
    answer = ask(page, OFF_TOPIC)
    assert "The documents don't answer this." in answer.locator(".abstain").inner_text()
    cards = answer.locator("article.card")
    assert cards.count() >= 1
    assert cards.count() == answer.locator("article.card.low").count()
    assert "low confidence" in cards.first.locator(".meter").inner_text()


def test_the_source_opens_at_the_passage(page):
    answer = ask(page, RUTTE)
    card = answer.locator("article.card").first
    passage_text = card.locator(".text").inner_text()
    card.get_by_text("Open the source").click()
    panel = page.locator("#source-panel")
    panel.wait_for(state="visible")
    assert "004_5d5c85c0ad26f8dd.txt" in panel.locator(".source-title").inner_text()
    frame = page.frame_locator("#source-panel iframe")
    mark = frame.locator("mark#passage")
    mark.wait_for()
    assert mark.inner_text() == passage_text
    assert "Mark Rutte" in mark.locator("strong").first.inner_text()
    # Scrolled down to the passage (it is at line 17), and its start is on screen.
    page.frame(name="source-view").wait_for_function(
        "() => { const r = document.getElementById('passage').getBoundingClientRect();"
        " return window.scrollY > 0 && r.top >= 0 && r.top < window.innerHeight; }",
        timeout=WAIT_MS,
    )
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")


def test_follow_up_uses_the_conversation_and_clear_starts_over(page):
    ask(page, "Roughly how many troops was North Korea reported to be sending to Russia in total?")
    follow_up = ask(page, "And how many of them actually ended up joining Russian units?")
    assert "follow-up" in follow_up.locator(".followup").inner_text()
    assert "2,000" in follow_up.locator("article.card").first.inner_text()
    page.locator("#clear").click()
    page.locator("#conversation .turn").first.wait_for(state="detached")
    assert "Ask a question about the documents" in page.locator("#conversation").inner_text()


def test_advanced_controls_set_the_number_of_passages_and_the_mode(page):
    page.locator("#advanced").get_by_text("Advanced").click()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # Set the controls the way a person does, and go on once the page shows it took them: input
    # typed in the instant the fold opens can land before its widgets are live, so retype then.
    number = page.locator("#advanced input[type=number]")
    slider_is_two = "() => document.querySelector('#advanced input[type=range]')?.value === '2'"
    lexical_chosen = ("() => [...document.querySelectorAll('#advanced input[type=radio]')]"
                      ".some(r => r.checked && r.value === 'lexical')")
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        number.fill("2")
        number.blur()
        page.get_by_label("lexical").check()
        try:
            page.wait_for_function(slider_is_two, timeout=3000)
            page.wait_for_function(lexical_chosen, timeout=3000)
            break
        except PlaywrightTimeout:
            assert time.monotonic() < deadline, "the page never took the passages and mode values"
    answer = ask(page, RUTTE)
    assert answer.locator("article.card").count() == 2
    assert "2 passages from the documents (lexical search only)" in answer.locator(".summary").inner_text()


def test_document_markup_shows_as_text_and_runs_nothing(page):
    page.locator("#advanced").get_by_text("Advanced").click()
    page.get_by_label(HOSTILE).check()
    answer = ask(page, "When did the zebra aquarium of Lisbon open its shark tunnel?")
    card = answer.locator("article.card").first
    assert card.locator(".file").inner_text() == HOSTILE
    text = card.locator(".text").inner_text()
    assert "<script>window.__pwned = 'script'</script>" in text
    assert "<img src=\"x\" onerror=\"window.__pwned = 'img'\">" in text
    assert "${window.__pwned = 'template'} and {{value}}" in text
    assert answer.locator("script, img, b, a[href^='javascript']").count() == 0
    card.get_by_text("Open the source").click()
    frame = page.frame_locator("#source-panel iframe")
    assert "<script>window.__pwned = 'heading'</script>" in frame.locator(".doc").inner_text()
    assert frame.locator(".doc script, .doc img").count() == 0
    page.wait_for_timeout(500)  # give anything that could run a chance to run
    assert page.evaluate("window.__pwned") is None
    assert page.errors == []


def test_the_page_fits_a_phone(browser, server):
    page = open_page(browser, server, width=390, height=844)
    try:
        answer = ask(page, RUTTE)
        assert answer.locator("article.card").first.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        answer.locator("article.card").first.get_by_text("Open the source").click()
        panel = page.locator("#source-panel")
        panel.wait_for(state="visible")
        assert panel.bounding_box()["width"] == 390
    finally:
        page.context.close()


def test_bad_questions_get_a_message_in_the_page_and_it_goes_on(page):
    """Too long, control characters only, then a huge paste (refused by the server's body limit
    before Gradio reads it): a message each time, no script error, and the next question works."""
    turns = page.locator("#conversation .turn")
    box = page.locator("#question textarea")
    for question, message in [("x" * 5000, "the limit is 2000"), ("\x01\x02 \x03", "empty")]:
        before = turns.count()
        box.fill(question)
        box.press("Enter")
        expect(turns.nth(before).locator(".error")).to_contain_text(message)
    box.fill("y " * 50_000)
    box.press("Enter")
    page.wait_for_timeout(3000)  # whatever Gradio shows for a refused request, the page goes on
    answer = ask(page, RUTTE)
    expect(answer.locator(".card").first).to_contain_text("004_5d5c85c0ad26f8dd.txt")
    assert not page.errors
