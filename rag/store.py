"""Vector stores: a small interface, and the FAISS backend that implements it.

The index takes vectors computed elsewhere. Scores are inner products of unit vectors (cosine).
Another backend (a distributed vector database) implements the same four methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import IndexCorruptError


class VectorStore(Protocol):
    """Nearest-neighbour search over unit vectors keyed by int64 ids."""

    dimension: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k), best first; id -1 pads a short result."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray: ...

    def save(self, folder: Path) -> None: ...

    def __len__(self) -> int: ...


class FaissStore:
    """Exact inner-product search (FAISS IndexFlatIP), ids mapped so vectors can be fetched back."""

    FILE = "dense.faiss"

    def __init__(self, dimension: int, index=None):
        import faiss

        self._faiss = faiss
        self.dimension = dimension
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of dimension {self.dimension}, got {vectors.shape}")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def search(self, queries, k, allowed=None):
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, len(self)))
        params = None
        if allowed is not None:
            selector = self._faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            params = self._faiss.SearchParameters(sel=selector)
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if len(ids) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._index.reconstruct(int(i)) for i in ids])

    def save(self, folder: Path) -> None:
        self._faiss.write_index(self._index, str(Path(folder) / self.FILE))

    @classmethod
    def load(cls, folder: Path) -> "FaissStore":
        import faiss

        path = Path(folder) / cls.FILE
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} cannot be read ({exc}); rebuild with `rag index`") from None
        return cls(index.d, index)

    def __len__(self) -> int:
        return int(self._index.ntotal)
