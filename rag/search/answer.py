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
    """Below the answer's cut: `support` under `support_threshold` where the calibrated
    abstainer applies, else `confidence` under `threshold`."""
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
    support: float | None = None
    """The calibrated probability that this passage answers the question (the abstainer's, from
    signals relative to this corpus; hybrid mode with the learned ranker), else None."""

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
            "support": _rounded(self.support),
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
    """The cosine cut (`min_confidence`) that decides `answered` where no abstainer applies."""
    support: float | None = None
    """The best passage's calibrated probability of answering (None where no abstainer applies)."""
    support_threshold: float | None = None
    """The abstainer's calibrated cut: where set, `answered` is support >= support_threshold."""

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
            "support": _rounded(self.support),
            "support_threshold": self.support_threshold,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _evidence_dict(evidence: Evidence | None) -> dict[str, float] | None:
    if evidence is None:
        return None
    return {"rank": evidence.rank, "score": round(evidence.score, 6)}


def build_answer(
    query: Query, hits: Sequence[Hit], corpus: Corpus, settings: QuerySettings,
    signals: Mapping[int, np.ndarray] | None = None, abstainer: LinearModel | None = None,
) -> Answer:
    """Read each hit's text, choose its highlights, and decide whether the question is answered.

    A passage's `confidence` is its best cosine (passage or sentence) with the question. With an
    `abstainer` and the ranker's per-candidate `signals` (hybrid mode with a learned ranker), its
    `support` is the abstainer's calibrated probability that it answers, and that decides, against
    the abstainer's threshold; otherwise confidence decides, against `min_confidence`. No passage
    has more support than the best one."""
    chunks = corpus.chunks
    spans = [(h.doc, h.start, h.end) for h in hits]
    texts = chunks.span_texts(spans)
    per_hit = [[s for s in found if not s.heading] or found for found in chunks.sentences_of(spans)]
    # One tokenizer call for every sentence of every hit: per-call overhead dominated queries.
    all_terms = iter(corpus.sentence_terms(
        [text[s.start - hit.start : s.end - hit.start]
         for hit, text, sentences in zip(hits, texts, per_hit) for s in sentences]
    ))
    query_terms = set(query.terms)
    kind = expected_type(query.text)
    calibrated = abstainer is not None and signals is not None and abstainer.threshold is not None
    cut = float(abstainer.threshold) if calibrated else None
    supports = _supports(hits, signals, abstainer) if calibrated else [None] * len(hits)
    passage_cos = _passage_cosines(hits, corpus, query.vector)
    page_starts = chunks.page_starts({h.source for h in hits})
    wrapped = chunks.soft_wrapped({h.source for h in hits})
    passages = []
    for rank, (hit, text, sentences, support, cos) in enumerate(
            zip(hits, texts, per_hit, supports, passage_cos), start=1):
        terms = [next(all_terms) for _ in sentences]
        shapes = [holds(kind, text[x.start - hit.start : x.end - hit.start]) for x in sentences]
        highlights, sentence_cos = _highlights(
            sentences, terms, query.vector, query_terms, corpus.sentence_vectors, settings, shapes
        )
        confidence = max(cos, sentence_cos)
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
                low_confidence=support < cut if calibrated else confidence < settings.min_confidence,
                highlights=highlights,
                dense=Evidence(best.dense_rank, best.dense_score) if best.dense_rank else None,
                lexical=Evidence(best.lexical_rank, best.lexical_score) if best.lexical_rank else None,
                soft_wrapped=hit.source in wrapped,
                support=support,
                **_pages(page_starts[hit.source], hit.start, hit.end, highlights),
            )
        )
    confidence = max((p.confidence for p in passages), default=0.0)
    support = max((p.support for p in passages), default=0.0) if calibrated else None
    answered = bool(passages) and (support >= cut if calibrated else confidence >= settings.min_confidence)
    return Answer(
        question=query.text,
        answered=answered,
        confidence=confidence,
        mode=query.mode,
        passages=tuple(passages),
        used_history=query.used_history,
        threshold=round(settings.min_confidence, 4),
        support=support,
        support_threshold=None if cut is None else round(cut, 4),
    )


def _supports(hits: Sequence[Hit], signals: Mapping[int, np.ndarray], abstainer: LinearModel) -> list[float]:
    """Each hit's calibrated probability of answering (0 for a hit the ranker did not re-score),
    capped by the first's: one model call for all of them."""
    rows = [signals.get(h.best.id) for h in hits]
    known = [n for n, row in enumerate(rows) if row is not None]
    out = [0.0] * len(hits)
    if known:
        for n, p in zip(known, abstainer.probability(np.vstack([rows[n] for n in known]))):
            out[n] = float(p)
    return [min(p, out[0]) for p in out] if out else out


def _passage_cosines(hits: Sequence[Hit], corpus: Corpus, vector: np.ndarray) -> list[float]:
    """Each hit's best passage cosine with the query (a merged hit: its best passage), from one
    read of the stored vectors."""
    ids = [i for h in hits for i in h.chunk_ids]
    if not ids:
        return []
    cos = corpus.vectors.vectors(np.array(ids)) @ vector
    out, at = [], 0
    for h in hits:
        out.append(float(cos[at : at + len(h.chunk_ids)].max()))
        at += len(h.chunk_ids)
    return out


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
        cosines = np.asarray(sentence_vectors[ids], dtype=np.float32) @ query_vector
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
