"""The FAISS backend of the vector-store interface (`rag.store.vectors.VectorStore`).

The index takes vectors computed elsewhere. Scores are inner products of unit vectors (cosine).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.errors import ConfigError, IndexCorruptError


def choose_factory(setting: str, size: int, exact_up_to: int) -> str:
    """The FAISS factory string for an index of `size` vectors: the setting itself, or for "auto"
    exact search ("Flat") up to `exact_up_to` vectors and an HNSW graph beyond."""
    if setting != "auto":
        return setting
    return "Flat" if size <= exact_up_to else AUTO_APPROXIMATE


AUTO_APPROXIMATE = "HNSW32"
"""What "auto" picks past the exact limit (see docs/benchmarks.md for the measurements)."""


TRAIN_PER_LIST = 64
"""IVF indexes are trained on at most this many vectors per list (FAISS wants at least 39)."""


class FaissStore:
    """Inner-product search through any FAISS factory string ("Flat" is exact; "HNSW32",
    "IVF1024,Flat", ... approximate), ids mapped so vectors can be fetched back."""

    FILE = "dense.faiss"

    def __init__(
        self, dimension: int, index=None, factory: str = "Flat", ef_construction: int | None = None
    ):
        import faiss

        self._faiss = faiss
        self.dimension = dimension
        if index is None:
            try:
                inner = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
            except RuntimeError as exc:
                raise ConfigError(f"{factory!r} is not a FAISS factory string usable here ({exc})") from None
            index = faiss.IndexIDMap2(inner)
        self._index = index
        self.factory = factory
        self._inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
        if ef_construction is not None and hasattr(self._inner, "hnsw"):
            self._inner.hnsw.efConstruction = ef_construction  # not expressible in a factory string
        self._params: dict = {}
        self._threads = 0
        if hasattr(self._inner, "make_direct_map") and self._inner.ntotal:
            self._inner.make_direct_map()

    def tune(self, ef_search: int | None = None, nprobe: int | None = None, threads: int | None = None) -> None:
        """Search-time knobs: accuracy of approximate indexes (ignored by exact ones), and the
        OpenMP threads of one search (1 is fastest for a single query on a busy small machine:
        measured 3.9 vs 24 ms at 10k vectors on 2 loaded cores)."""
        if threads is not None:
            self._threads = threads
        if ef_search is not None and hasattr(self._inner, "hnsw"):
            self._params["efSearch"] = ef_search
        if nprobe is not None and hasattr(self._inner, "nprobe"):
            self._params["nprobe"] = nprobe

    @property
    def build_parameters(self) -> dict[str, int]:
        """What shaped the index beyond its factory string (recorded in the manifest)."""
        if hasattr(self._inner, "hnsw"):
            return {"efConstruction": int(self._inner.hnsw.efConstruction)}
        return {}

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of dimension {self.dimension}, got {vectors.shape}")
        if not self._index.is_trained:  # IVF and PQ indexes learn their partition first
            self._index.train(self._training_sample(vectors))
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
        if hasattr(self._inner, "make_direct_map"):  # IVF: needed to fetch vectors back by id
            self._inner.make_direct_map()

    def _training_sample(self, vectors: np.ndarray) -> np.ndarray:
        """At most TRAIN_PER_LIST vectors per IVF list, a fixed random choice (FAISS would sample
        256 per list, at random each time): IVF4096 over 1M vectors then trains and fills in
        about 2 minutes on two busy cores."""
        lists = int(getattr(self._inner, "nlist", 0))
        limit = TRAIN_PER_LIST * lists
        if not lists or len(vectors) <= limit:
            return vectors
        rows = np.sort(np.random.default_rng(0).choice(len(vectors), size=limit, replace=False))
        return np.ascontiguousarray(vectors[rows])

    def search(self, queries, k, allowed=None):
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, len(self)))
        params, options = None, dict(self._params)
        if allowed is not None:
            options["sel"] = self._faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if "efSearch" in options:
            options["efSearch"] = max(options["efSearch"], k)
            params = self._faiss.SearchParametersHNSW(**options)
        elif "nprobe" in options:
            params = self._faiss.SearchParametersIVF(**options)
        elif options:
            params = self._faiss.SearchParameters(**options)
        if not self._threads:
            return self._index.search(queries, k, params=params)
        previous = self._faiss.omp_get_max_threads()  # per calling thread in OpenMP: restored after
        self._faiss.omp_set_num_threads(self._threads)
        try:
            return self._index.search(queries, k, params=params)
        finally:
            self._faiss.omp_set_num_threads(previous)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if len(ids) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))

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
        return cls(index.d, index, factory="loaded")

    def __len__(self) -> int:
        return int(self._index.ntotal)
