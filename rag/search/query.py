"""What a search stage works on: the question as it will be searched (`Query`) and the searchable
pieces of one open build (`Corpus`). Ranking and answering take these two, not the pieces one by
one, so a new signal or a new store backend changes one record, not every signature."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

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
