"""The vector-store interface: unit vectors and int64 ids in, ranked ids out.

Scores are inner products of unit vectors (cosine). `rag.store.faiss_store.FaissStore` is the
local backend; `rag.store.milvus_store.MilvusStore` (a Milvus collection) implements the same few
methods. `open_store` opens the one a build's manifest names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


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


def open_store(build: Path, built, settings) -> VectorStore:
    """The vector store of an open build (`built`: its manifest), as its settings recorded it."""
    recorded = built.data["settings"]
    if recorded.get("store", "faiss") == "milvus":
        from rag.store.milvus_collections import open_collection

        return open_collection(settings, Path(build), recorded, built.counts["passages"], int(built.model["dimension"]))
    from rag.store.faiss_store import FaissStore

    store = FaissStore.load(build)
    query = settings.query
    store.tune(ef_search=query.ef_search, nprobe=query.nprobe, threads=query.search_threads)
    return store
