"""Find the passages for a query: dense, lexical, or both fused by rank; then merge overlaps.

Everything here works on ids and spans; reading text and choosing highlights is `answer`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import islice
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from rag.config import QuerySettings
from rag.search.features import Lists, TermStats, candidate_features, head_features, query_features
from rag.search.fusion import reciprocal_rank_fusion
from rag.search.query import Corpus, Query
from rag.search.rerank import LinearModel
from rag.store.chunkstore import ChunkStore, StoredChunk


class Candidate(NamedTuple):
    """One passage id with the evidence behind its place in the ranking (a named tuple: a query
    makes up to 2 x `candidates` of them, and a frozen dataclass costs several times more each)."""

    id: int
    score: float
    dense_rank: int | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None


@dataclass(frozen=True)
class Hit:
    """A span to show: one passage, or several overlapping ones merged, with its best evidence."""

    doc: int
    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    chunk_ids: tuple[int, ...]
    best: Candidate


class Ranking(NamedTuple):
    """The candidates of one query, best first, and (hybrid with a learned ranker) the
    query-level signals of `features.query_features` that abstention reads."""

    candidates: Iterator[Candidate]
    signals: dict[int, np.ndarray] | None = None
    """Candidate id -> its row of `features.QUERY_FEATURES` (the re-scored candidates only)."""


def retrieve(
    query: Query,
    corpus: Corpus,
    settings: QuerySettings,
    allowed: np.ndarray | None = None,
    sentence_ranking: Sequence[int] | None = None,
    sentence_cos: np.ndarray | None = None,
) -> Lists:
    """Each retriever's list for the query's mode: id -> (rank, score), `candidates` deep
    (`sentence_cos`, the query's cosine with every sentence, travels along for the features)."""
    mode = query.mode
    depth = settings.candidates
    dense: dict[int, tuple[int, float]] = {}
    lexical_hits: dict[int, tuple[int, float]] = {}
    if mode in ("dense", "hybrid"):
        scores, ids = corpus.vectors.search(query.vector[None, :], depth, allowed)
        order = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        dense = {i: (r, s) for r, (i, s) in enumerate(order, start=1)}
    if mode in ("lexical", "hybrid"):
        scores, ids = corpus.lexical.search(list(query.terms), depth, allowed)
        lexical_hits = {int(i): (r, float(s)) for r, (i, s) in enumerate(zip(ids, scores), start=1)}
    by_sentence = {int(i): (r, 0.0) for r, i in enumerate(sentence_ranking or (), start=1)}
    return Lists(dense, lexical_hits, by_sentence, depth, sentence_cos)


def fuse(lists: Lists, settings: QuerySettings) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of the three lists with the settings' weights."""
    return reciprocal_rank_fusion(
        {"dense": list(lists.dense), "lexical": list(lists.lexical), "sentence": list(lists.sentence)},
        {"dense": settings.dense_weight, "lexical": settings.lexical_weight,
         "sentence": settings.sentence_weight},
        k=settings.rrf_k,
    )


def rank(
    query: Query,
    corpus: Corpus,
    settings: QuerySettings,
    allowed: np.ndarray | None = None,
    sentence_ranking: Sequence[int] | None = None,
    ranker: LinearModel | None = None,
    probe: float = 0.0,
    sentence_cos: np.ndarray | None = None,
) -> Ranking:
    """All candidates of the query's mode, best first, made as they are consumed (a query reads
    about k of up to 2 x `candidates`). In hybrid mode `sentence_ranking` (passages ranked by
    their best sentence, see `sentence_passages`) joins the fusion as a third list, and a learned
    `ranker` re-scores the first `rerank_depth` fused candidates from their features (`probe`:
    the corpus' probe level, see `rag.search.probes`, for the abstention signals)."""
    lists = retrieve(query, corpus, settings, allowed, sentence_ranking, sentence_cos)
    signals = None
    if query.mode == "dense":
        ordered = [(i, s) for i, (_, s) in lists.dense.items()]
    elif query.mode == "lexical":
        ordered = [(i, s) for i, (_, s) in lists.lexical.items()]
    else:
        ordered = fuse(lists, settings)
        if ranker is not None and ordered:
            ordered, signals = _rerank(query, corpus, lists, ordered, settings.rerank_depth, ranker, probe)
    none = (None, None)
    dense, lexical_hits = lists.dense, lists.lexical
    candidates = (
        Candidate(i, score, *dense.get(i, none), *lexical_hits.get(i, none)) for i, score in ordered
    )
    return Ranking(candidates, signals)


def _rerank(query: Query, corpus: Corpus, lists: Lists, ordered: list[tuple[int, float]],
            depth: int, ranker: LinearModel, probe: float) -> tuple[list[tuple[int, float]], dict[int, np.ndarray]]:
    """The first `depth` fused candidates ordered by the learned score (ties by id), the rest
    after them in fused order with scores below the lowest learned one."""
    head = [i for i, _ in ordered[:depth]]
    terms = TermStats(corpus, query.terms)
    rows = head_features(candidate_features(query, corpus, lists, head, terms))
    learned = ranker.score(rows)
    order = sorted(range(len(head)), key=lambda n: (-learned[n], head[n]))
    floor = float(learned.min()) - 1.0
    ranked = [(head[n], float(learned[n])) for n in order]
    ranked += [(i, floor - r * 1e-6) for r, (i, _) in enumerate(ordered[depth:], start=1)]
    signals = query_features(lists, rows[order], learned[order], terms, probe)
    return ranked, {head[n]: signals[at] for at, n in enumerate(order)}


def sentence_passages(
    query_vector: np.ndarray,
    sentence_vectors: np.ndarray,
    sentence_chunks: Sequence[Sequence[int]],
    depth: int,
    allowed: np.ndarray | None = None,
    scores: np.ndarray | None = None,
) -> list[int]:
    """Passage ids ranked by the cosine of their best sentence with the query (the stored
    sentence vectors): a passage whose one sentence answers the question ranks by that sentence,
    not by the average of everything else it holds. `scores`: those cosines, if computed."""
    if scores is None:
        scores = sentence_cosines(query_vector, sentence_vectors)
    ranked = _sentence_walk(scores, sentence_chunks, depth, allowed, limit=min(len(scores), 8 * depth))
    if len(ranked) < depth and len(scores) > 8 * depth:
        ranked = _sentence_walk(scores, sentence_chunks, depth, allowed, limit=len(scores))
    return ranked


def sentence_cosines(query_vector: np.ndarray, sentence_vectors: np.ndarray) -> np.ndarray:
    """The query's cosine with every stored sentence (float32; no copy when both are float32)."""
    return np.asarray(sentence_vectors, dtype=np.float32) @ np.asarray(query_vector, dtype=np.float32)


def _sentence_walk(scores, sentence_chunks, depth, allowed, limit):
    """Passages in the order of their best sentence among the `limit` best sentences (a partial
    sort: the best `limit` are found in linear time, then sorted, ties by sentence id)."""
    if limit < len(scores):
        top = np.argpartition(-scores, limit - 1)[:limit]
        kth = scores[top].min()
        top = np.union1d(top, np.flatnonzero(scores == kth))  # keep every tie at the cut
    else:
        top = np.arange(len(scores))
    order = top[np.lexsort((top, -scores[top]))]  # best first, ties by sentence id
    keep = None if allowed is None else set(int(i) for i in allowed)
    ranked: list[int] = []
    seen: set[int] = set()
    for sentence in order:
        for chunk in sentence_chunks[sentence]:
            if chunk not in seen and (keep is None or chunk in keep):
                seen.add(chunk)
                ranked.append(chunk)
        if len(ranked) >= depth:
            break
    return ranked[:depth]


def merge_overlapping(
    candidates: Iterable[Candidate], chunks: ChunkStore, k: int, batch: int = 8
) -> list[Hit]:
    """The best k distinct spans. A candidate overlapping a chosen span is merged into it when
    the union stays within two passages' length, else dropped; a passage whose text duplicates
    a chosen one (the same boilerplate in two files) is dropped. Nothing is shown twice."""
    hits: list[Hit] = []
    digests: set[str] = set()
    candidates = iter(candidates)
    while group := list(islice(candidates, batch)):
        for candidate, stored in zip(group, chunks.chunks([c.id for c in group])):
            if stored.digest in digests:
                continue
            if _merge_into(hits, stored):
                continue
            digests.add(stored.digest)
            chunk = stored.chunk
            hits.append(
                Hit(
                    doc=stored.doc,
                    source=chunk.source,
                    start=chunk.start,
                    end=chunk.end,
                    line_start=chunk.line_start,
                    line_end=chunk.line_end,
                    chunk_ids=(stored.id,),
                    best=candidate,
                )
            )
            if len(hits) == k:
                return hits
    return hits


def _merge_into(hits: list[Hit], stored: StoredChunk) -> bool:
    """Merge `stored` into the chosen span it overlaps; False when it overlaps none."""
    chunk = stored.chunk
    for index, hit in enumerate(hits):
        if hit.doc != stored.doc or chunk.end <= hit.start or chunk.start >= hit.end:
            continue
        start, end = min(hit.start, chunk.start), max(hit.end, chunk.end)
        longest = max(hit.end - hit.start, chunk.end - chunk.start)
        grows_into_another = any(
            other is not hit and other.doc == hit.doc and other.start < end and start < other.end
            for other in hits
        )
        if (start, end) != (hit.start, hit.end) and end - start <= 2 * longest and not grows_into_another:
            hits[index] = replace(
                hit,
                start=start,
                end=end,
                line_start=min(hit.line_start, chunk.line_start),
                line_end=max(hit.line_end, chunk.line_end),
                chunk_ids=hit.chunk_ids + (stored.id,),
            )
        return True
    return False
