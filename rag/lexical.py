"""The lexical side: BM25 (bm25s) over stemmed, stopword-free tokens of each passage."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import IndexCorruptError
from rag.sentences import normalize

FOLDER = "lexical"


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


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

    def __init__(self, stemmer, remember: int = 100_000):
        from bm25s.tokenization import _infer_stopwords

        self._stemmer = stemmer
        self._stopwords = frozenset(_infer_stopwords("en"))
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


class LexicalIndex:
    """BM25 over passages; row i of the index is the passage with id i."""

    def __init__(self, bm25, size: int):
        self._bm25 = bm25
        self._stemmer = _stemmer()
        self.terms = QueryTerms(self._stemmer)
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> "LexicalIndex":
        import bm25s

        bm25 = bm25s.BM25()
        bm25.index(tokenize(texts, _stemmer()), show_progress=False)
        return cls(bm25, len(texts))

    def query_tokens(self, text: str) -> list[str]:
        return self.terms([text])[0]

    def search(
        self, tokens: list[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the best k passages with a positive score, best first."""
        known = [t for t in tokens if t in self._bm25.vocab_dict]
        if not known or self.size == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores = self._bm25.get_scores(known)
        if allowed is not None:
            mask = np.zeros(self.size, dtype=bool)
            mask[allowed] = True
            scores = np.where(mask, scores, 0.0)
        k = min(k, self.size)
        top = np.argpartition(-scores, k - 1)[:k]
        # Best first; ties broken by id so the same question always gives the same ranking.
        top = top[np.lexsort((top, -scores[top]))]
        top = top[scores[top] > 0]
        return scores[top].astype(np.float32), top.astype(np.int64)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(Path(folder) / FOLDER), show_progress=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> "LexicalIndex":
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        try:
            bm25 = bm25s.BM25.load(str(Path(folder) / FOLDER), mmap=True, show_progress=False)
        except Exception as exc:  # bm25s and numpy raise many kinds on a damaged file
            raise IndexCorruptError(
                f"the lexical index in {folder} cannot be read ({exc}); rebuild with `rag index`"
            ) from None
        return cls(bm25, size)

