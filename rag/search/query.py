"""What a search stage works on: the question as it will be searched (`Query`) and the searchable
pieces of one open build (`Corpus`). Ranking and answering take these two, not the pieces one by
one, so a new signal or a new store backend changes one record, not every signature."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from rag.errors import QueryError
from rag.store.chunkstore import ChunkStore
from rag.store.lexical import LexicalIndex
from rag.store.vectors import VectorStore


@dataclass(frozen=True)
class Query:
    """A question ready to search: its text, its vector and its lexical terms."""

    text: str
    """The question as asked (cleaned of control characters)."""
    vector: np.ndarray
    """Unit-norm question embedding; the previous question is folded in when `used_history`."""
    terms: tuple[str, ...]
    """Stemmed, stopword-free query tokens (those of the history appended when it is used)."""
    mode: str
    """hybrid, dense or lexical."""
    used_history: bool = False


@dataclass(frozen=True, eq=False)
class Corpus:
    """The searchable pieces of one open build: passages and sentences, their vectors, BM25."""

    chunks: ChunkStore
    vectors: VectorStore
    lexical: LexicalIndex
    sentence_vectors: np.ndarray | None
    """One unit-norm row per stored sentence (None for an index built without them)."""

    @cached_property
    def sentence_chunks(self) -> Sequence[tuple[int, ...]]:
        """Which passages hold each sentence; read from the chunk store on first use."""
        return self.chunks.sentence_chunks()

    @cached_property
    def chunk_sentences(self) -> Sequence[tuple[int, ...]]:
        """Which sentences each passage holds (the inverse of `sentence_chunks`)."""
        members: list[list[int]] = [[] for _ in range(self.chunks.chunk_count)]
        for sentence, holders in enumerate(self.sentence_chunks):
            for chunk in holders:
                members[chunk].append(sentence)
        return [tuple(m) for m in members]

    @cached_property
    def chunk_sentence_matrix(self) -> np.ndarray:
        """`chunk_sentences` as one (passages, most sentences in a passage) int64 array, -1 padded."""
        members = self.chunk_sentences
        width = max((len(m) for m in members), default=0)
        matrix = np.full((len(members), width), -1, dtype=np.int64)
        for row, m in enumerate(members):
            matrix[row, : len(m)] = m
        return matrix

    def sentence_terms(self, texts: Sequence[str]) -> list[set[str]]:
        """The lexical term set of each text (remembered: the same sentences recur across queries)."""
        return self.lexical.terms.sets(texts)


# -- a question as given by a caller, checked and cleaned before it becomes a Query ----------------


RAW_QUESTION_FACTOR = 10
"""A question longer than this many times the limit is refused before it is even cleaned."""


def clean_question(question: object, max_chars: int) -> str:
    """The question with control characters removed; a QueryError when nothing usable is left."""
    if isinstance(question, str) and len(question) > RAW_QUESTION_FACTOR * max_chars:
        # Refused before cleaning, so the work per request stays bounded whatever is sent.
        raise QueryError(f"the question is {len(question)} characters long; the limit is {max_chars}")
    cleaned = _clean_text(question, "the question")
    if not cleaned:
        raise QueryError("the question is empty")
    if len(cleaned) > max_chars:
        raise QueryError(f"the question is {len(cleaned)} characters long; the limit is {max_chars}")
    return cleaned


def clean_history(history: object, max_chars: int) -> list[str]:
    """Earlier questions, cleaned like a question; blank ones dropped."""
    if history is None:
        return []
    if isinstance(history, str) or not isinstance(history, (list, tuple)):
        raise QueryError("history must be a list of earlier questions")
    cleaned = [_clean_text(item, "each earlier question") for item in history]
    too_long = [len(c) for c in cleaned if len(c) > max_chars]
    if too_long:
        raise QueryError(
            f"an earlier question is {too_long[0]} characters long; the limit is {max_chars}"
        )
    return [c for c in cleaned if c]


def _clean_text(text: object, what: str) -> str:
    """Control and format characters become spaces; whitespace runs fold to one space."""
    if not isinstance(text, str):
        raise QueryError(f"{what} must be text")
    if text.isprintable():  # the usual case: no control, format or separator characters at all
        return " ".join(text.split())
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") else ch for ch in text
    )
    return " ".join(cleaned.split())


def check_k(k: object, max_k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise QueryError(f"k must be a whole number between 1 and {max_k}, got {k!r}")
    if not 1 <= int(k) <= max_k:
        raise QueryError(f"k must be between 1 and {max_k}, got {k}")
    return int(k)
