"""Turn retrieved spans into an extractive answer: verbatim passages, highlighted sentences,
a confidence, and the decision whether the documents answer the question at all.

Nothing here writes text about the documents: every string shown is a slice of a source file.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from rag.config import QuerySettings
from rag.search.answer_type import expected_type, holds
from rag.search.query import Corpus, Query
from rag.search.ranking import Hit
from rag.search.rerank import LinearModel
from rag.store.chunkstore import StoredSentence

LEXICAL_BONUS = 0.15
"""Weight of the share of question terms a sentence contains, added to its cosine when
choosing highlights (names and numbers matter more than embeddings alone show)."""
ANSWER_TYPE_BONUS = 0.1
"""Added to a sentence's highlight score when it holds the kind of answer asked for (a date for
"when", a number for "how many", a name for "who"; `rag.search.answer_type`)."""


@dataclass(frozen=True)
class Evidence:
    """Where a passage stood in one retriever's list."""

    rank: int
    score: float


@dataclass(frozen=True)
class Passage:
    """A verbatim span of a source file, as shown to the reader."""

    rank: int
    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    score: float
    """The ranking score of the mode used: RRF for hybrid, cosine for dense, BM25 for lexical."""
    confidence: float
    """Cosine similarity of the question to the passage or its best sentence, in [-1, 1]."""
    low_confidence: bool
    highlights: tuple[tuple[int, int], ...]
    """Character spans [start, end) in the source file of the supporting sentences."""
    dense: Evidence | None = None
    lexical: Evidence | None = None
    page: int | None = None
    """1-based page of the passage's first character; None for formats without pages."""
    page_end: int | None = None
    """1-based page of its last character (equal to `page` unless it crosses a page break)."""
    highlight_pages: tuple[int | None, ...] = ()
    """The page of each highlight's first character, in the order of `highlights`."""
    soft_wrapped: bool = False
    """Its document's single line breaks are soft wraps: a reader sees it reflowed (display only)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "score": round(self.score, 6),
            "confidence": round(self.confidence, 4),
            "low_confidence": self.low_confidence,
            "text": self.text,
            "highlights": [list(h) for h in self.highlights],
            "dense": _evidence_dict(self.dense),
            "lexical": _evidence_dict(self.lexical),
            "page": self.page,
            "page_end": self.page_end,
            "highlight_pages": list(self.highlight_pages) if self.page is not None else [None] * len(self.highlights),
        }


@dataclass(frozen=True)
class Answer:
    """The result of one question: the passages, and whether they answer it."""

    question: str
    answered: bool
    confidence: float
    mode: str
    passages: tuple[Passage, ...]
    used_history: bool = False
    threshold: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of `rag ask --json` and `POST /api/ask` (see README)."""
        return {
            "question": self.question,
            "answered": self.answered,
            "confidence": round(self.confidence, 4),
            "threshold": self.threshold,
            "mode": self.mode,
            "used_history": self.used_history,
            "passages": [p.to_dict() for p in self.passages],
        }


def _evidence_dict(evidence: Evidence | None) -> dict[str, float] | None:
    if evidence is None:
        return None
    return {"rank": evidence.rank, "score": round(evidence.score, 6)}


def build_answer(
    query: Query, hits: Sequence[Hit], corpus: Corpus, settings: QuerySettings,
    signals: Mapping[int, np.ndarray] | None = None, abstainer: LinearModel | None = None,
) -> Answer:
    """Read each hit's text, choose its highlights, and decide whether the question is answered.

    With an `abstainer` and the ranker's per-candidate `signals` (hybrid mode with a learned
    ranker), a passage's confidence is the abstainer's calibrated probability that it answers,
    and `threshold` is the abstainer's; otherwise confidence is the best cosine, against
    `min_confidence`. No passage is more confident than the best one."""
    chunks = corpus.chunks
    texts = chunks.span_texts([(h.doc, h.start, h.end) for h in hits])
    per_hit = [
        [s for s in found if not s.heading] or found
        for found in chunks.sentences_of([(h.doc, h.start, h.end) for h in hits])
    ]
    # One tokenizer call for every sentence of every hit: per-call overhead dominated queries.
    all_terms = iter(corpus.sentence_terms(
        [text[s.start - hit.start : s.end - hit.start]
         for hit, text, sentences in zip(hits, texts, per_hit) for s in sentences]
    ))
    query_terms = set(query.terms)
    kind = expected_type(query.text)
    calibrated = abstainer is not None and signals is not None and abstainer.threshold is not None
    threshold = float(abstainer.threshold) if calibrated else settings.min_confidence
    page_starts = chunks.page_starts({h.source for h in hits})
    wrapped = chunks.soft_wrapped({h.source for h in hits})
    passages = []
    for rank, (hit, text, sentences) in enumerate(zip(hits, texts, per_hit), start=1):
        passage_cos = float(np.max(corpus.vectors.vectors(np.array(hit.chunk_ids)) @ query.vector))
        terms = [next(all_terms) for _ in sentences]
        shapes = [holds(kind, text[x.start - hit.start : x.end - hit.start]) for x in sentences]
        highlights, sentence_cos = _highlights(
            sentences, terms, query.vector, query_terms, corpus.sentence_vectors, settings, shapes
        )
        confidence = max(passage_cos, sentence_cos)
        if calibrated:
            row = signals.get(hit.best.id)
            confidence = float(abstainer.probability(row)[0]) if row is not None else 0.0
            if passages:
                confidence = min(confidence, passages[0].confidence)
        best = hit.best
        passages.append(
            Passage(
                rank=rank,
                source=hit.source,
                start=hit.start,
                end=hit.end,
                line_start=hit.line_start,
                line_end=hit.line_end,
                text=text,
                score=best.score,
                confidence=confidence,
                low_confidence=confidence < threshold,
                highlights=highlights,
                dense=Evidence(best.dense_rank, best.dense_score) if best.dense_rank else None,
                lexical=Evidence(best.lexical_rank, best.lexical_score) if best.lexical_rank else None,
                soft_wrapped=hit.source in wrapped,
                **_pages(page_starts[hit.source], hit.start, hit.end, highlights),
            )
        )
    confidence = max((p.confidence for p in passages), default=0.0)
    return Answer(
        question=query.text,
        answered=bool(passages) and confidence >= threshold,
        confidence=confidence,
        mode=query.mode,
        passages=tuple(passages),
        used_history=query.used_history,
        threshold=round(threshold, 4),
    )


def _pages(starts: Sequence[int], start: int, end: int,
           highlights: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """The page fields of a passage [start, end) with these highlights (all None without pages)."""
    if not starts:
        return {}
    page = lambda offset: max(1, bisect_right(starts, offset))  # noqa: E731
    return {"page": page(start), "page_end": page(end - 1),
            "highlight_pages": tuple(page(a) for a, _ in highlights)}


def _highlights(
    sentences: Sequence[StoredSentence],
    sentence_terms: Sequence[set[str]],
    query_vector: np.ndarray,
    query_terms: set[str],
    sentence_vectors: np.ndarray | None,
    settings: QuerySettings,
    shapes: Sequence[bool] = (),
) -> tuple[tuple[tuple[int, int], ...], float]:
    """The supporting sentences (best first, at most max_highlights) and the best one's cosine.
    `shapes` marks the sentences that hold the kind of answer the question asks for (a date,
    a number, a name): they gain ANSWER_TYPE_BONUS."""
    if not sentences:
        return (), -1.0
    if sentence_vectors is not None:
        ids = np.array([s.id for s in sentences])
        cosines = sentence_vectors[ids].astype(np.float32) @ query_vector
    else:
        cosines = np.zeros(len(sentences), dtype=np.float32)
    overlap = np.array(
        [
            len(query_terms & terms) / max(1, len(query_terms))
            for terms in sentence_terms
        ],
        dtype=np.float32,
    )
    scores = cosines + LEXICAL_BONUS * overlap
    if len(shapes) == len(scores):
        scores = scores + ANSWER_TYPE_BONUS * np.array(shapes, dtype=np.float32)
    order = sorted(range(len(sentences)), key=lambda i: (-scores[i], sentences[i].start))
    best = scores[order[0]]
    chosen = [i for i in order if scores[i] >= best - settings.highlight_margin]
    chosen = sorted(chosen[: settings.max_highlights], key=lambda i: sentences[i].start)
    best_cos = float(cosines.max()) if sentence_vectors is not None else -1.0
    return tuple((sentences[i].start, sentences[i].end) for i in chosen), best_cos
