"""Per-candidate ranking signals that every corpus has: no model call, no passage text read.

For the passages one query's retrievers returned, `candidate_features` gives one row each:
the passage cosine, its best and second-best sentence cosines (stored sentence vectors), BM25
(raw and relative to the query's best), the rank in each list (as -log rank, absent = depth + 1),
and the IDF-weighted share of the question's terms the passage holds (from the BM25 matrix).
`query_features` gives signals of the question against the whole corpus, for abstention: how far
the best cosine stands above this query's own score distribution over the corpus, and how much of
the question's IDF mass is missing from the corpus vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np

from rag.search.query import Corpus, Query

BASE_FEATURES = (
    "dense_cos", "sentence_best", "sentence_second", "bm25_rel", "dense_lr", "lexical_lr",
    "sentence_lr", "coverage", "in_both", "rare_missing",
)
"""Column names of `candidate_features`, in order."""
FEATURES = BASE_FEATURES + ("dense_cos_gap", "sentence_best_gap", "coverage_gap")
"""Column names of `head_features` (what the learned ranker's weights name): the base ones, then
three relative to the best candidate of the same query, so a pointwise model compares passages
of one question rather than questions with each other."""


@dataclass(frozen=True)
class Lists:
    """What the retrievers returned for one query: id -> (rank, score), and the sentence list."""

    dense: Mapping[int, tuple[int, float]]
    lexical: Mapping[int, tuple[int, float]]
    sentence: Mapping[int, tuple[int, float]]
    depth: int
    sentence_cos: np.ndarray | None = None
    """The query's cosine with every stored sentence, when the sentence list computed it."""


class TermStats:
    """IDF of each query term and which passages hold it, read from the BM25 matrix's columns."""

    def __init__(self, corpus: Corpus, terms: Sequence[str]):
        lexical = corpus.lexical
        n = max(1, lexical.size)
        self.size = n
        self.terms = list(dict.fromkeys(terms))
        self.idf = np.zeros(len(self.terms), dtype=np.float64)
        self.holders: list[np.ndarray] = []
        columns = len(lexical._indptr) - 1
        for i, term in enumerate(self.terms):
            column = lexical._vocabulary.get(term)
            if column is None or column >= columns:
                df, held = 0, np.zeros(0, dtype=np.int64)
            else:
                held = np.asarray(lexical._indices[lexical._indptr[column]:lexical._indptr[column + 1]])
                df = len(held)
            self.idf[i] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            self.holders.append(held)

    @cached_property
    def total(self) -> float:
        return float(self.idf.sum())

    def membership(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids), len(terms)) booleans: does each passage hold each query term."""
        out = np.zeros((len(ids), len(self.terms)), dtype=bool)
        if not len(ids):
            return out
        mask = np.zeros(self.size, dtype=bool)
        for t, held in enumerate(self.holders):
            if len(held):
                mask[held] = True
                out[:, t] = mask[ids]
                mask[held] = False
        return out

    def coverage(self, ids: np.ndarray, member: np.ndarray | None = None) -> np.ndarray:
        """IDF-weighted share of the query's terms held by each passage id, in [0, 1]."""
        if not self.terms or self.total == 0:
            return np.zeros(len(ids), dtype=np.float32)
        member = self.membership(ids) if member is None else member
        return (member @ self.idf / self.total).astype(np.float32)

    def rare_missing(self, ids: np.ndarray, member: np.ndarray | None = None) -> np.ndarray:
        """For each passage id, the IDF of the rarest question term it does not hold, over the
        largest IDF this corpus can give (a term in no passage): in [0, 1], the same scale in
        every corpus. 0 when the passage holds every term."""
        if not self.terms:
            return np.zeros(len(ids), dtype=np.float32)
        member = self.membership(ids) if member is None else member
        ceiling = math.log(1.0 + (self.size + 0.5) / 0.5)
        return (np.where(member, 0.0, self.idf[None, :]).max(axis=1) / ceiling).astype(np.float32)

    def missing(self) -> float:
        """Share of the query's IDF mass in terms that no passage of the corpus holds."""
        if not self.terms or self.total == 0:
            return 0.0
        return float(sum(idf for idf, held in zip(self.idf, self.holders) if not len(held)) / self.total)


def sentence_scores(query: Query, corpus: Corpus, ids: Sequence[int],
                    all_cos: np.ndarray | None = None) -> np.ndarray:
    """(len(ids), 2): the best and second-best sentence cosine of each passage (-1 when none;
    the best twice when it holds one sentence). `all_cos`: the query's cosine with every
    sentence, when already computed (then nothing is multiplied again)."""
    out = np.full((len(ids), 2), -1.0, dtype=np.float32)
    if corpus.sentence_vectors is None or not len(ids):
        return out
    members = corpus.chunk_sentence_matrix[np.asarray(ids, dtype=np.int64)]  # -1 pads
    if not members.shape[1]:
        return out
    present = members >= 0
    safe = np.where(present, members, 0)
    if all_cos is not None:
        cos = all_cos[safe]
    else:
        cos = corpus.sentence_vectors[safe.ravel()].astype(np.float32)
        cos = (cos @ query.vector.astype(np.float32)).reshape(members.shape)
    cos = np.where(present, cos, -np.inf)
    if cos.shape[1] == 1:
        top = np.repeat(cos, 2, axis=1)
    else:
        top = -np.partition(-cos, 1, axis=1)[:, :2]
        top[:, 1] = np.where(np.isinf(top[:, 1]), top[:, 0], top[:, 1])
    return np.where(np.isinf(top), -1.0, top).astype(np.float32)


def candidate_features(query: Query, corpus: Corpus, lists: Lists, ids: Sequence[int],
                       terms: TermStats | None = None) -> np.ndarray:
    """One row of FEATURES per candidate id (float32)."""
    ids = np.asarray(ids, dtype=np.int64)
    terms = terms or TermStats(corpus, query.terms)
    cos = corpus.vectors.vectors(ids) @ query.vector.astype(np.float32)
    sentences = sentence_scores(query, corpus, ids, lists.sentence_cos)
    missing = lists.depth + 1
    best_bm25 = max((s for _, s in lists.lexical.values()), default=0.0) or 1.0

    def log_rank(table: Mapping[int, tuple[int, float]]) -> np.ndarray:
        return np.array([-math.log(table[i][0] if i in table else missing) for i in ids.tolist()],
                        dtype=np.float32)

    bm25 = np.array([lists.lexical[i][1] if i in lists.lexical else 0.0 for i in ids.tolist()],
                    dtype=np.float32) / best_bm25
    dense_lr, lexical_lr = log_rank(lists.dense), log_rank(lists.lexical)
    sentence_lr = log_rank(lists.sentence) if lists.sentence else dense_lr
    in_both = np.array([(i in lists.dense) and (i in lists.lexical) for i in ids.tolist()], dtype=np.float32)
    member = terms.membership(ids)
    rows = np.column_stack(
        [cos, sentences[:, 0], sentences[:, 1], bm25, dense_lr, lexical_lr, sentence_lr,
         terms.coverage(ids, member), in_both, terms.rare_missing(ids, member)]
    ).astype(np.float32)
    return rows if corpus.sentence_vectors is not None else with_stand_ins(rows)


SENTENCE_STAND_INS = {"sentence_best": "dense_cos", "sentence_second": "dense_cos", "sentence_lr": "dense_lr"}
"""What the sentence columns of `candidate_features` hold on an index without sentence vectors:
the passage's own signal. The passage ranker (`QuerySettings.passage_ranker`) is trained on
tuning rows seen this way (`eval/train_ranker.py`)."""


def with_stand_ins(rows: np.ndarray) -> np.ndarray:
    """`candidate_features` rows (a copy) with the sentence columns replaced by SENTENCE_STAND_INS."""
    rows = np.array(rows, dtype=np.float32)
    for target, source in SENTENCE_STAND_INS.items():
        rows[:, BASE_FEATURES.index(target)] = rows[:, BASE_FEATURES.index(source)]
    return rows


def head_features(rows: np.ndarray) -> np.ndarray:
    """`candidate_features` rows of the candidates one query re-scores, with the three columns
    relative to the best of them appended (0 for the best, negative below it)."""
    rows = np.atleast_2d(rows)
    if not len(rows):
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    picked = rows[:, [0, 1, 7]]
    return np.column_stack([rows, picked - picked.max(axis=0)]).astype(np.float32)


QUERY_FEATURES = ("top_cos_over_probes", "top_z", "missing_terms", "top_coverage", "agreement", "gap",
                  "rare_missing")
"""Column names of `query_features`: signals of the whole answer, for abstention."""


def query_features(lists: Lists, rows: np.ndarray, scores: np.ndarray, terms: TermStats,
                   probe: float = 0.0) -> np.ndarray:
    """For each candidate (rows of FEATURES, best first, with the ranker's `scores`), signals that
    mean the same in every corpus: its best cosine (passage or sentence) above `probe`, what
    generic questions reach in this corpus (`rag.search.probes`); how many standard
    deviations that stands above this query's dense scores over the corpus (its top `depth`
    list); the share of the question's IDF mass the corpus lacks; its term coverage; whether
    dense and lexical both put it in their top 5; its ranker score's margin over the best
    other candidate (positive only for the first); and how rare the rarest question term it
    lacks is (`TermStats.rare_missing`)."""
    rows = np.atleast_2d(rows)
    n = len(rows)
    if n == 0:
        return np.zeros((0, len(QUERY_FEATURES)), dtype=np.float32)
    dense = np.array([s for _, s in lists.dense.values()], dtype=np.float32)
    top_cos = np.maximum(rows[:, 0], rows[:, 1])
    if len(dense) > 1:
        z = (top_cos - float(dense.mean())) / max(float(dense.std()), 1e-3)
    else:
        z = np.zeros(n, dtype=np.float32)
    agreement = ((rows[:, 4] > -math.log(6)) & (rows[:, 5] > -math.log(6))).astype(np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    if n > 1:
        gap = scores - scores[0]
        gap[0] = scores[0] - scores[1]
    else:
        gap = np.zeros(1, dtype=np.float32)
    return np.column_stack(
        [top_cos - probe, z, np.full(n, terms.missing(), dtype=np.float32), rows[:, 7], agreement, gap, rows[:, 9]]
    ).astype(np.float32)
