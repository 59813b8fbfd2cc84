"""Markdown structure that passages must respect: fenced code blocks and pipe tables.

A Markdown file is stored as written (rag.ingest.readers.text); only where passages may be cut
depends on its structure. A fenced block (``` or ~~~, CommonMark's rules: up to three spaces of
indent, closed by a fence of the same character at least as long, or by the end of the file) and a
pipe table (a header row, a delimiter row such as |---|:--:|, then the rows that follow) are kept
whole in one passage when they fit in a passage's budget (rag.ingest.chunking); their lines are
never taken for headings. Only spans are computed here: the text is never touched.
"""

from __future__ import annotations

import re

from rag.ingest.sentences import Sentence, split_sentences, trim

_FENCE = re.compile(r"[ ]{0,3}(`{3,}|~{3,})")
_DELIMITER_ROW = re.compile(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*")


def blocks(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the fenced code blocks and pipe tables of `text`, in order, trimmed
    of surrounding whitespace."""
    lines = _lines(text)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        start, end, line = lines[i]
        fence = _FENCE.match(line)
        if fence and not (fence.group(1)[0] == "`" and "`" in line[fence.end():]):
            marker = fence.group(1)
            j = i + 1
            while j < len(lines) and not _closes(lines[j][2], marker):
                j += 1
            last = min(j, len(lines) - 1)
            spans.append((start, lines[last][1]))
            i = last + 1
            continue
        if "|" in line and i + 1 < len(lines) and _is_delimiter_row(lines[i + 1][2]):
            j = i + 2
            while j < len(lines) and "|" in lines[j][2] and lines[j][2].strip():
                j += 1
            spans.append((start, lines[j - 1][1]))
            i = j
            continue
        i += 1
    return [span for a, b in spans if (span := trim(text, a, b))]


def split_sentences_markdown(text: str) -> list[Sentence]:
    """Sentences as for any text, but none runs across the edge of a block, and no line inside a
    block is a heading (a line of code or a table's header row reads like one)."""
    found = blocks(text)
    if not found:
        return split_sentences(text)
    edges = sorted({edge for span in found for edge in span})
    result: list[Sentence] = []
    for sentence in split_sentences(text):
        cuts = [sentence.start] + [e for e in edges if sentence.start < e < sentence.end] + [sentence.end]
        for a, b in zip(cuts, cuts[1:]):
            span = trim(text, a, b)
            if span is None:
                continue
            inside = any(s <= span[0] and span[1] <= e for s, e in found)
            heading = sentence.heading and len(cuts) == 2 and not inside
            result.append(Sentence(span[0], span[1], heading))
    return result


def _lines(text: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of every line, end excluding the newline."""
    out, position = [], 0
    for line in text.split("\n"):
        out.append((position, position + len(line), line.rstrip("\r")))
        position += len(line) + 1
    return out


def _closes(line: str, marker: str) -> bool:
    fence = _FENCE.match(line)
    return bool(
        fence and fence.group(1)[0] == marker[0] and len(fence.group(1)) >= len(marker)
        and not line[fence.end():].strip()
    )


def _is_delimiter_row(line: str) -> bool:
    return "|" in line and "-" in line and bool(_DELIMITER_ROW.fullmatch(line))
