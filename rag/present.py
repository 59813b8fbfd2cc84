"""Render answers as HTML for the web page. Every piece of document text is escaped here."""

from __future__ import annotations

from html import escape

from rag.answer import Answer, Passage

NO_ANSWER = "The documents don't answer this."


def passage_html(passage: Passage) -> str:
    """One passage card: file, lines, confidence, and the text with its highlights marked."""
    text, parts, position = passage.text, [], 0
    for start, end in passage.highlights:
        a, b = start - passage.start, end - passage.start
        parts += [escape(text[position:a]), "<mark>", escape(text[a:b]), "</mark>"]
        position = b
    parts.append(escape(text[position:]))
    body = "".join(parts).replace("\n", "<br>")
    label = "low confidence" if passage.low_confidence else "supports the answer"
    return (
        f'<div class="passage{" low" if passage.low_confidence else ""}">'
        f'<div class="cite"><b>[{passage.rank}] {escape(passage.source)}</b>, '
        f"lines {passage.line_start}–{passage.line_end} · {label} "
        f"({passage.confidence:.2f})</div>"
        f'<div class="text">{body}</div></div>'
    )


def answer_html(answer: Answer) -> str:
    """The whole answer: an abstention notice when unanswered, then the passage cards."""
    head = "" if answer.answered else (
        f'<p class="abstain"><b>{NO_ANSWER}</b> The closest passages are shown below, '
        "marked low confidence.</p>"
    )
    return head + "".join(passage_html(p) for p in answer.passages)
