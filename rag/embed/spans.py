"""Vectors of spans of a text taken from the text's own forward pass ("token-pooled").

A passage is embedded once; its sentences' vectors are the mean of the passage's token
embeddings (the encoder's last hidden states) over each sentence's word pieces, normalised to
unit length. That is how the model pools a whole text (mean over its tokens), restricted to a
span, so a sentence costs no forward pass of its own. The tokens see the rest of the passage
(attention is over the whole passage), so a token-pooled sentence vector is close to, not equal
to, the sentence embedded alone: `tests/test_pooled_sentences.py` measures how close with the
real model, and docs/benchmarks.md what it does to retrieval and highlights.

Spans are given in the coordinates of the text as stored (before whitespace is folded); they are
mapped here into the folded text the model saw, and checked: a span whose folded text is not
where the mapping says is not pooled (None), and the caller embeds it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.ingest.sentences import normalize

POOLED = "pooled"
SEPARATE = "separate"
SENTENCE_VECTOR_METHODS = (POOLED, SEPARATE)


@dataclass(frozen=True)
class TokenStates:
    """One text's word pieces as the encoder saw them (special tokens and padding left out):
    their character spans in `text` (the whitespace-folded input) and their hidden states."""

    text: str
    offsets: np.ndarray
    """int (n, 2): [start, end) of each piece in `text`."""
    states: np.ndarray
    """float32 (n, dim): the last hidden state of each piece."""


def folded_span(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) of `text` (a span beginning and ending on non-space characters) in
    `normalize(text)`: the folded prefix, plus the single space that follows it when not empty."""
    head = normalize(text[:start])
    begin = len(head) + (1 if head else 0)
    return begin, len(normalize(text[:end]))


def pool_spans(tokens: TokenStates, spans: Sequence[tuple[int, int]]) -> list[np.ndarray | None]:
    """Unit vector per span of `tokens.text` (folded coordinates): the mean hidden state of the
    pieces lying inside it; None where no piece does (a span cut off by truncation)."""
    starts, ends = tokens.offsets[:, 0], tokens.offsets[:, 1]
    result: list[np.ndarray | None] = []
    for start, end in spans:
        first = int(np.searchsorted(starts, start, side="left"))
        last = int(np.searchsorted(ends, end, side="right"))
        if last <= first:
            result.append(None)
            continue
        vector = tokens.states[first:last].mean(axis=0)
        norm = float(np.linalg.norm(vector))
        result.append(vector / norm if norm > 0 else None)
    return result


def pooled_vectors(
    tokens: TokenStates, raw: str, spans: Sequence[tuple[int, int]], pieces: Sequence[str]
) -> list[np.ndarray | None]:
    """Vectors of `spans` of `raw` (the passage as embedded, before folding; each span trimmed of
    whitespace), pooled from the passage's `tokens`; `pieces[i]` is span i's own text as it would
    be embedded alone. A span whose folded text is not found where mapped gets None."""
    folded = []
    for (start, end), piece in zip(spans, pieces):
        begin, stop = folded_span(raw, start, end)
        folded.append((begin, stop) if tokens.text[begin:stop] == normalize(piece) else (0, 0))
    return pool_spans(tokens, folded)
