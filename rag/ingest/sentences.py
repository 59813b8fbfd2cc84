"""Find sentences (and headings) in a document as character spans, without touching the text.

Line breaks mean different things in different files: in a hard-wrapped file (lines of ~80
characters) a single newline is a space inside a sentence, elsewhere it ends a paragraph. The
segmenter decides per document, then splits paragraphs at sentence punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_NEWLINE = re.compile(r"\n\s*")
# End punctuation, optional closing quotes/brackets, then whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9À-Ý]")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st sr jr gen lt col sgt capt cmdr adm gov sen rep pres vs etc "
    "e.g i.e fig inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]?$")
_TERMINAL = tuple(".!?…:;\"'”’)")


@dataclass(frozen=True)
class Sentence:
    """A sentence's span [start, end) in its document, and whether it reads as a heading."""

    start: int
    end: int
    heading: bool = False


def normalize(text: str) -> str:
    """Whitespace folded to single spaces: what is embedded and matched, never what is shown."""
    # str.split() breaks at exactly the characters regex \s matches (str.isspace), several times
    # faster than re.sub(r"\s+", " ", text).strip(), which it equals (tests/test_sentences.py).
    return " ".join(text.split())


def is_hard_wrapped(text: str) -> bool:
    """True when most lines are cut at a fixed width, so single newlines are soft breaks."""
    lengths = [len(line.rstrip()) for line in text.split("\n") if line.strip()]
    if len(lengths) < 8:
        return False
    wide = sorted(lengths)[int(len(lengths) * 0.9) - 1]
    if wide > 100:
        return False
    near_width = sum(1 for n in lengths if n >= 0.7 * wide)
    return near_width >= 0.6 * len(lengths)


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of paragraphs, trimmed of surrounding whitespace."""
    breaker = _BLANK_LINE if is_hard_wrapped(text) else _NEWLINE
    spans = []
    position = 0
    for match in breaker.finditer(text):
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, len(text)))
    return [trimmed for span in spans if (trimmed := trim(text, *span))]


def split_sentences(text: str) -> list[Sentence]:
    """Every sentence of `text` as a span; headings are short paragraphs without end punctuation."""
    sentences: list[Sentence] = []
    for start, end in paragraphs(text):
        parts = _split_paragraph(text, start, end)
        heading = len(parts) == 1 and _looks_like_heading(text[start:end])
        sentences.extend(Sentence(s, e, heading) for s, e in parts)
    return sentences


def _split_paragraph(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    position = start
    for match in _SENTENCE_END.finditer(text, start, end):
        cut = match.end()
        if not _NEXT_STARTS_SENTENCE.match(text, cut, end):
            continue
        if match.group(0)[0] == "." and _is_abbreviation(text, position, match.start()):
            continue
        spans.append((position, cut))
        position = cut
    spans.append((position, end))
    return [trimmed for span in spans if (trimmed := trim(text, *span))]


def _is_abbreviation(text: str, start: int, dot: int) -> bool:
    word_start = dot
    while word_start > start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lstrip("(\"'“‘")
    if not word:
        return False
    if word.lower() in _ABBREVIATIONS:
        return True
    return bool(_INITIALISM.match(word)) or (len(word) == 1 and word.isupper())


def _looks_like_heading(paragraph: str) -> bool:
    stripped = paragraph.strip()
    words = stripped.split()
    if "\n" in stripped or not 0 < len(words) <= 14:
        return False
    if stripped.endswith(":"):  # "Part 2/11:", "Conclusion:"
        return len(words) <= 4
    return not stripped.endswith(_TERMINAL)


def trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """[start, end) without surrounding whitespace; None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
