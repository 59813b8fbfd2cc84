"""The vector-store interface: unit vectors and int64 ids in, ranked ids out.

Scores are inner products of unit vectors (cosine). `rag.store.faiss_store.FaissStore` is the
local backend; another backend (a distributed vector database) implements the same few methods.
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
