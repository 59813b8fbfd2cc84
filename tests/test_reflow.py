"""Soft-wrapped text (seed 001 is cut at ~80 characters) is shown reflowed on the cards and in the
source view: paragraphs kept, single line breaks shown as spaces, offsets still exact."""

from __future__ import annotations

import re

import pytest

from rag.serve.render import marked, passage_html, reflow, source_page_html

WRAPPED = "First line of a paragraph\ncontinues here.\n\nA second paragraph\r\nalso wrapped.\n"


def test_reflow_keeps_length_and_paragraphs():
    shown = reflow(WRAPPED)
    assert len(shown) == len(WRAPPED)
    assert shown == "First line of a paragraph continues here.\n\nA second paragraph  also wrapped.\n"
    # marks are placed by file offsets, unchanged by the reflow
    start = WRAPPED.index("continues")
    html = marked(WRAPPED, 0, [(start, start + 9)], reflowed=True)
    assert "paragraph <mark>continues</mark> here." in html
    assert marked(WRAPPED, 0, [], reflowed=False).count("\n") == WRAPPED.count("\n")


def test_source_view_reflows_only_when_asked():
    assert "paragraph\ncontinues" in source_page_html("a.txt", WRAPPED, 0, 10)
    assert "paragraph continues" in source_page_html("a.txt", WRAPPED, 0, 10, reflowed=True)


@pytest.mark.slow
def test_seed_001_cards_and_source_view_are_reflowed(seed_index):
    answer = seed_index.ask("How much artillery ammunition has Pyongyang sent Moscow since 2023, "
                            "counted in containers?", k=5, sources=["001_7b96f2a4aa5ded35.txt"])
    passage = answer.passages[0]
    assert passage.soft_wrapped
    text = seed_index.document_text(passage.source)
    assert passage.text == text[passage.start:passage.end] and "\n" in passage.text
    body = re.search(r'<div class="text">(.*?)</div>', passage_html(passage), re.S).group(1)
    paragraphs = [p for p in re.sub(r"</?mark>", "", body).split("\n\n")]
    assert all("\n" not in p.strip("\n") for p in paragraphs)
    other = seed_index.ask("What did NATO's Secretary General say about North Korean troops?", k=1,
                           sources=["004_5d5c85c0ad26f8dd.txt"]).passages[0]
    assert not other.soft_wrapped  # one paragraph a line: its newlines are paragraph breaks
