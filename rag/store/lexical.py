"""The lexical side: BM25 (bm25s) over stemmed, stopword-free tokens of each passage.

bm25s builds and saves the index (a self-describing folder: parameters, vocabulary, and the
sparse matrix of each term's precomputed score per passage). Opening and searching it reads that
folder directly, memory-mapped, and sums the query terms' columns exactly as bm25s's numpy
backend does (same arrays, same order of float32 additions: the same scores, tested), because
importing bm25s imports numba and scipy when they are installed: 0.5-2 s at every `rag ask`.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import IndexCorruptError
from rag.ingest.sentences import normalize

FOLDER = "lexical"
STOPWORDS = "stopwords.json"
"""Written beside bm25s's files: the stopwords the passages were tokenized with."""
_SCORED_METHODS = ("lucene", "robertson", "atire")
"""bm25s methods whose scores are the stored matrix alone (BM25L and BM25+ add a term for absent words)."""


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def english_stopwords() -> list[str]:
    """bm25s's English stopword list (what `tokenize` removes)."""
    from bm25s.tokenization import _infer_stopwords

    return list(_infer_stopwords("en"))


def tokenize(texts: Sequence[str], stemmer) -> list[list[str]]:
    """Lower-cased, stemmed word tokens with English stopwords removed."""
    import bm25s

    return bm25s.tokenize(
        [normalize(t) for t in texts],
        stopwords="en",
        stemmer=stemmer,
        return_ids=False,
        show_progress=False,
    )


class QueryTerms:
    """The same terms as `tokenize`, for the few short texts of one query, without its per-call
    overhead (it rebuilds sets and progress bars on every call: a third of a cached query's time).
    Stems, and the term sets of the sentences shown, are remembered per instance, up to
    `remember` entries each (then forgotten at once: a long-running server stays bounded).
    Equality with `tokenize` is tested."""

    _TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's (scikit-learn's) token pattern

    def __init__(self, stemmer, stopwords: Sequence[str] | None = None, remember: int = 100_000):
        """`stopwords`: those saved with the index; None imports bm25s's English list."""
        self._stemmer = stemmer
        self._stopwords = frozenset(english_stopwords() if stopwords is None else stopwords)
        self._stems: dict[str, str] = {}
        self._sets: dict[str, frozenset[str]] = {}
        self._remember = remember
        self._lock = threading.Lock()

    def sets(self, texts: Sequence[str]) -> list[frozenset[str]]:
        """The distinct terms of each text; a text seen before (a sentence shown again) is not
        tokenised again."""
        with self._lock:
            known = [self._sets.get(t) for t in texts]
        missing = [t for t, found in zip(texts, known) if found is None]
        if not missing:
            return known  # type: ignore[return-value]
        fresh = dict(zip(missing, (frozenset(terms) for terms in self(missing))))
        with self._lock:
            if len(self._sets) + len(fresh) > self._remember:
                self._sets.clear()
            self._sets.update(fresh)
        return [found if found is not None else fresh[t] for t, found in zip(texts, known)]

    def __call__(self, texts: Sequence[str]) -> list[list[str]]:
        words = [
            [w for w in self._TOKEN.findall(normalize(t).lower()) if w not in self._stopwords]
            for t in texts
        ]
        with self._lock:
            new = list({w for ws in words for w in ws if w not in self._stems})
            if len(self._stems) + len(new) > self._remember:
                self._stems.clear()
                new = list({w for ws in words for w in ws})
            if new:
                self._stems.update(zip(new, self._stemmer.stemWords(new)))
            return [[self._stems[w] for w in ws] for ws in words]


def best_ids(scores: np.ndarray, k: int) -> np.ndarray:
    """Ids of the k highest positive scores, best first, equal scores by id, also where a tie
    straddles the k-th place (np.argpartition alone would pick among the tied ones arbitrarily).
    Linear in the number of passages, not n log n."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    kth = scores[top].min()
    if kth > 0:
        above = top[scores[top] > kth]
        tied = np.flatnonzero(scores == kth)[: k - len(above)]  # ascending ids
        top = np.concatenate([above, tied])
    top = top[scores[top] > 0]
    return top[np.lexsort((top, -scores[top]))]


class LexicalIndex:
    """BM25 over passages; row i of the index is the passage with id i."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                 vocabulary: dict[str, int], size: int, stopwords: Sequence[str], bm25=None):
        """The term-by-passage score matrix in compressed sparse columns (column t: the passages
        holding term t, `indices[indptr[t]:indptr[t + 1]]`, and their scores, `data[...]`)."""
        self._data, self._indices, self._indptr = data, indices, indptr
        self._vocabulary = vocabulary
        self._bm25 = bm25  # the bm25s model, kept only by `build`, to `save` it
        self._stopwords = list(stopwords)
        self.terms = QueryTerms(_stemmer(), self._stopwords)
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> "LexicalIndex":
        import bm25s

        bm25 = bm25s.BM25()
        bm25.index(tokenize(texts, _stemmer()), show_progress=False)
        scores = bm25.scores
        return cls(scores["data"], scores["indices"], scores["indptr"], bm25.vocab_dict, len(texts),
                   english_stopwords(), bm25)

    def query_tokens(self, text: str) -> list[str]:
        return self.terms([text])[0]

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage (float32), as bm25s's `get_scores` computes it."""
        scores = np.zeros(self.size, dtype=np.float32)
        indptr, indices, data = self._indptr, self._indices, self._data
        columns = len(indptr) - 1  # bm25s's vocabulary also names "", which has no column
        for term in tokens:
            column = self._vocabulary.get(term)
            if column is not None and column < columns:
                start, end = indptr[column], indptr[column + 1]
                np.add.at(scores, indices[start:end], data[start:end])
        return scores

    def search(
        self, tokens: list[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the best k passages with a positive score, best first."""
        known = [t for t in tokens if t in self._vocabulary]
        if not known or self.size == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores = self.scores(known)
        if allowed is not None:
            mask = np.zeros(self.size, dtype=bool)
            mask[allowed] = True
            scores = np.where(mask, scores, 0.0)
        top = best_ids(scores, min(k, self.size))
        return scores[top].astype(np.float32), top.astype(np.int64)

    def save(self, folder: Path) -> None:
        if self._bm25 is None:
            raise TypeError("only a LexicalIndex made by build() can be saved")
        target = Path(folder) / FOLDER
        self._bm25.save(str(target), show_progress=False)
        (target / STOPWORDS).write_text(json.dumps(self._stopwords), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, size: int) -> "LexicalIndex":
        """The saved index, its arrays memory-mapped; bm25s is not imported (unless the index
        predates the saved stopword list)."""
        where = Path(folder) / FOLDER
        try:
            params = json.loads((where / "params.index.json").read_text(encoding="utf-8"))
            vocabulary = json.loads((where / "vocab.index.json").read_text(encoding="utf-8"))
            # Plain arrays over the maps: a np.memmap's slices are memmaps too, each built through
            # Python-level __getitem__/__array_finalize__ (~60 per question, 5% of a cached ask).
            data, indices, indptr = (
                np.load(where / f"{name}.csc.index.npy", mmap_mode="r").view(np.ndarray)
                for name in ("data", "indices", "indptr")
            )
            stopwords_file = where / STOPWORDS
            stopwords = (
                json.loads(stopwords_file.read_text(encoding="utf-8"))
                if stopwords_file.exists() else english_stopwords()
            )
            problem = None
            if params.get("method") not in _SCORED_METHODS or params.get("dtype") != "float32":
                problem = f"BM25 method {params.get('method')!r} ({params.get('dtype')}) is not one rag reads"
            elif params.get("num_docs") != size:
                problem = f"it holds {params.get('num_docs')} passages, not {size}"
        except Exception as exc:  # json and numpy raise many kinds on a damaged file
            problem = str(exc)
        if problem:
            raise IndexCorruptError(
                f"the lexical index in {folder} cannot be read ({problem}); rebuild with `rag index`"
            )
        return cls(data, indices, indptr, vocabulary, size, stopwords)
