"""Find the passages for a query: dense, lexical, or both fused by rank; then merge overlaps.

Everything here works on ids and spans; reading text and choosing highlights is `answer`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import islice
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from rag.config import QuerySettings
from rag.search.fusion import reciprocal_rank_fusion
from rag.search.query import Corpus, Query
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


def rank(
    query: Query,
    corpus: Corpus,
    settings: QuerySettings,
    allowed: np.ndarray | None = None,
    sentence_ranking: Sequence[int] | None = None,
) -> Iterator[Candidate]:
    """All candidates of the query's mode, best first, made as they are consumed (a query reads
    about k of up to 2 x `candidates`). In hybrid mode `sentence_ranking` (passages ranked by
    their best sentence, see `sentence_passages`) joins the fusion as a third list."""
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

    if mode == "dense":
        ordered = [(i, s) for i, (_, s) in dense.items()]
    elif mode == "lexical":
        ordered = [(i, s) for i, (_, s) in lexical_hits.items()]
    else:
        ordered = reciprocal_rank_fusion(
            {"dense": list(dense), "lexical": list(lexical_hits), "sentence": sentence_ranking or []},
            {"dense": settings.dense_weight, "lexical": settings.lexical_weight,
             "sentence": settings.sentence_weight},
            k=settings.rrf_k,
        )
    none = (None, None)
    return (
        Candidate(i, score, *dense.get(i, none), *lexical_hits.get(i, none)) for i, score in ordered
    )


def sentence_passages(
    query_vector: np.ndarray,
    sentence_vectors: np.ndarray,
    sentence_chunks: Sequence[Sequence[int]],
    depth: int,
    allowed: np.ndarray | None = None,
) -> list[int]:
    """Passage ids ranked by the cosine of their best sentence with the query (the stored
    sentence vectors): a passage whose one sentence answers the question ranks by that sentence,
    not by the average of everything else it holds."""
    scores = sentence_vectors.astype(np.float32) @ query_vector.astype(np.float32)
    order = np.lexsort((np.arange(len(scores)), -scores))  # best first, ties by sentence id
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
