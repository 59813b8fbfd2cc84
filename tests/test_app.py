"""The web page's rendering and wiring (the browser tests live in test_browser.py)."""

from rag.answer import Answer, Passage
from rag.present import NO_ANSWER, answer_html


def make_passage(text, highlights=(), low=False):
    return Passage(rank=1, source="<b>x</b>.txt", start=10, end=10 + len(text), line_start=2,
                   line_end=3, text=text, score=0.5, confidence=0.2 if low else 0.7,
                   low_confidence=low, highlights=highlights)


def test_document_text_is_escaped():
    passage = make_passage("<script>alert(1)</script> and [link](javascript:x)", ((10, 35),))
    html = answer_html(Answer("q", True, 0.7, "hybrid", (passage,)))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;.txt" in html
    assert "<mark>" in html


def test_highlight_marks_the_exact_span():
    passage = make_passage("One sentence. Two sentence.", ((24, 37),))
    html = answer_html(Answer("q", True, 0.7, "hybrid", (passage,)))
    assert "<mark>Two sentence.</mark>" in html


def test_abstention_is_said_and_passages_marked_low():
    passage = make_passage("Unrelated text.", low=True)
    html = answer_html(Answer("q", False, 0.2, "hybrid", (passage,)))
    assert NO_ANSWER in html and "low confidence" in html


def test_ui_builds_over_a_real_index(seed_index):
    import app

    demo = app.build_ui(seed_index)
    assert demo is not None
