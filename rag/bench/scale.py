"""The scale benchmark: FAISS index types at 100k-1M passages.

Vectors come from `rag.bench.scale_vectors` (real passage embeddings plus a fitted mixture).
Queries are the corpus's real question embeddings. Each index type is timed through
`rag.store.faiss_store.FaissStore`, the code path of a real query: one query at a time, `depth`
deep (what hybrid retrieval asks for), one search thread. Recall@10 is against exact search of the
same vectors. The lexical side at the same size is `rag.bench.scale_text`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rag.bench.scale_vectors import Mixture, corpus_vectors, gaussian, neighbour_cosines
from rag.bench.stats import rss_mb
from rag.store.faiss_store import FaissStore

# ---------------------------------------------------------------------------------------------
# Real vectors


# ---------------------------------------------------------------------------------------------
# Synthetic vectors with the statistics of the real ones


# ---------------------------------------------------------------------------------------------
# Dense index types


@dataclass(frozen=True)
class IndexConfig:
    """One index to build: a factory string, its HNSW efConstruction, and the search-time values
    to sweep (efSearch for HNSW, nprobe for IVF)."""

    factory: str
    ef_construction: int | None = None
    sweep: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        return self.factory + (f" efC {self.ef_construction}" if self.ef_construction else "")

    @property
    def knob(self) -> str | None:
        if "HNSW" in self.factory.split(",")[0] and not self.factory.startswith("IVF"):
            return "ef_search"
        if self.factory.startswith("IVF"):
            return "nprobe"
        return None


def parse_config(spec: str, ef_searches: Sequence[int], nprobes: Sequence[int]) -> IndexConfig:
    """"HNSW32@200" (efConstruction after @) or "IVF4096,Flat"; the sweep from the knob's list."""
    factory, _, efc = spec.partition("@")
    config = IndexConfig(factory, int(efc) if efc else None)
    sweep = {"ef_search": tuple(ef_searches), "nprobe": tuple(nprobes)}.get(config.knob or "", ())
    return IndexConfig(config.factory, config.ef_construction, sweep)


def _latency(store: FaissStore, queries: np.ndarray, depth: int) -> tuple[dict[str, float], np.ndarray]:
    samples, found = [], []
    for query in queries:
        mark = time.perf_counter()
        _, ids = store.search(query[None, :], depth)
        samples.append(time.perf_counter() - mark)
        found.append(ids[0][:10])
    timing = {"p50_ms": round(float(np.percentile(samples, 50)) * 1000, 3),
              "p95_ms": round(float(np.percentile(samples, 95)) * 1000, 3)}
    return timing, np.array(found)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])), 4)


def _index_mb(store: FaissStore) -> float:
    """Size of the saved index: what a query process holds in memory once it has loaded it (FAISS
    reads the whole file). The RSS growth while building is also reported, but memory freed by
    the previous index is reused, so it can under-count."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rag-scale-") as folder:
        store.save(Path(folder))
        return round((Path(folder) / FaissStore.FILE).stat().st_size / 2**20, 1)


def _truth(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact top 10 of each query (batched, all threads: this is the reference, not a timing)."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, ids = index.search(queries, 10)
    return ids


def run_scale(
    sizes: Sequence[int],
    *,
    real: np.ndarray,
    questions: np.ndarray,
    configs: Sequence[IndexConfig],
    queries: int = 200,
    depth: int = 100,
    exact_points: Sequence[int] = (10_000, 25_000, 50_000, 100_000),
    threads: int = 1,
    source: str = "",
    say: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Build, time and check each index configuration at each size, against exact search, for
    real questions and for held-out synthetic points; also exact search at smaller sizes (where
    "auto" stops searching exactly)."""
    mixture = Mixture.fit(real)
    rng = np.random.default_rng(2)
    asked = questions[np.sort(rng.choice(len(questions), size=min(queries, len(questions)), replace=False))]
    held_out = mixture.sample(queries, seed=3)
    results: dict[str, Any] = {
        "source": source, "real_vectors": len(real), "dim": int(real.shape[1]),
        "mixture_components": len(mixture.weights), "queries": len(asked), "depth": depth,
        "search_threads": threads,
        "neighbours": {"real": neighbour_cosines(real), "mixture": neighbour_cosines(mixture.sample(len(real), seed=4)),
                       "gaussian": neighbour_cosines(gaussian(real, len(real), seed=4))},
        "sizes": [],
    }
    say(f"[scale] nearest-neighbour cosines: {results['neighbours']}")
    results["hardness"] = hardness(real, questions, mixture)
    say(f"[scale] recall@10 of small approximate indexes at {len(real):,} vectors: {results['hardness']}")
    for size in sizes:
        say(f"[scale {size}] generating vectors")
        vectors = corpus_vectors(real, size, mixture)
        ids = np.arange(size, dtype=np.int64)
        truth = {"real": _truth(vectors, asked), "synthetic": _truth(vectors, held_out)}
        entry: dict[str, Any] = {"size": size, "vectors_mb": round(vectors.nbytes / 2**20, 1), "indexes": []}

        before = rss_mb()
        mark = time.perf_counter()
        exact = FaissStore(vectors.shape[1], factory="Flat")
        exact.add(ids, vectors)
        build = time.perf_counter() - mark
        exact.tune(threads=threads)
        timing, _ = _latency(exact, asked[:50], depth)
        entry["indexes"].append({"factory": "Flat", "build_s": round(build, 2),
                                 "memory_mb": round(rss_mb() - before, 1), "index_mb": _index_mb(exact), **timing,
                                 "recall@10": 1.0, "recall@10_synthetic": 1.0})
        say(f"[scale {size}] Flat: p50 {timing['p50_ms']} ms")
        del exact

        for config in configs:
            say(f"[scale {size}] building {config.label}")
            before = rss_mb()
            mark = time.perf_counter()
            store = FaissStore(vectors.shape[1], factory=config.factory, ef_construction=config.ef_construction)
            store.add(ids, vectors)
            build = time.perf_counter() - mark
            memory = round(rss_mb() - before, 1)
            index_mb = _index_mb(store)
            say(f"[scale {size}] {config.label}: built in {build:.1f} s, {index_mb} MB saved, RSS +{memory} MB")
            for value in config.sweep or (None,):
                if config.knob:
                    store.tune(threads=threads, **{config.knob: value})
                else:
                    store.tune(threads=threads)
                timing, found = _latency(store, asked, depth)
                _, found_synthetic = _latency(store, held_out, depth)
                row = {"factory": config.factory, **store.build_parameters, "build_s": round(build, 2),
                       "memory_mb": memory, "index_mb": index_mb, **timing, "recall@10": _recall(found, truth["real"]),
                       "recall@10_synthetic": _recall(found_synthetic, truth["synthetic"])}
                if config.knob:
                    row[config.knob] = value
                entry["indexes"].append(row)
                say(f"[scale {size}] {config.label} {config.knob or ''}={value}: p50 {timing['p50_ms']} ms "
                    f"p95 {timing['p95_ms']} ms, recall@10 {row['recall@10']} / {row['recall@10_synthetic']}")
            del store

        entry["exact_by_size"] = []
        for n in exact_points:
            if n > size:
                continue
            store = FaissStore(vectors.shape[1], factory="Flat")
            store.add(ids[:n], vectors[:n])
            store.tune(threads=threads)
            timing, _ = _latency(store, asked[:100], depth)
            entry["exact_by_size"].append({"size": n, **timing})
            say(f"[scale {size}] exact at {n:,}: p50 {timing['p50_ms']} ms")
            del store
        results["sizes"].append(entry)
        del vectors
    return results


def format_scale(results: dict[str, Any]) -> str:
    lines = [f"== scale ({results['real_vectors']:,} real {results['source']} passage vectors + mixture-fitted "
             f"synthetic ones, d={results['dim']}, {results['queries']} real questions, {results['depth']} deep, "
             f"{results['search_threads']} search thread)"]
    for entry in results["sizes"]:
        for row in entry["indexes"]:
            label = row["factory"] + (f" efC {row['efConstruction']}" if "efConstruction" in row else "")
            label += "".join(f" {k} {row[k]}" for k in ("ef_search", "nprobe") if k in row)
            lines.append(f"{entry['size']:>9,} {label:<32} build {row['build_s']:>7.1f} s  "
                         f"index {row['index_mb']:>7.1f} MB (RSS +{row['memory_mb']:.0f})  p50 {row['p50_ms']:>7.3f} ms  p95 {row['p95_ms']:>7.3f} ms  "
                         f"recall@10 {row['recall@10']} (synthetic queries {row['recall@10_synthetic']})")
        exact = ", ".join(f"{e['size']:,}: {e['p50_ms']} ms" for e in entry["exact_by_size"])
        if exact:
            lines.append(f"{'':>9} exact p50 by size: {exact}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The lexical index and the chunk store at the same size





def hardness(real: np.ndarray, questions: np.ndarray, mixture: Mixture, seed: int = 4) -> dict[str, dict[str, float]]:
    """How hard each corpus is for approximate search, at the real corpus's size: recall@10 of the
    real questions through a small HNSW graph (efSearch 10) and a coarse IVF (2 of 64 lists), on
    the real vectors, on as many mixture samples, and on as many single-Gaussian samples. A
    faithful synthetic corpus is about as hard as the real one."""
    corpora = {"real": real, "mixture": mixture.sample(len(real), seed=seed),
               "gaussian": gaussian(real, len(real), seed=seed)}
    asked = questions[:300]
    out = {}
    for name, vectors in corpora.items():
        truth = _truth(vectors, asked)
        out[name] = {}
        for factory, knob in (("HNSW16", {"ef_search": 10}), ("IVF64,Flat", {"nprobe": 2})):
            store = FaissStore(vectors.shape[1], factory=factory, ef_construction=40)
            store.add(np.arange(len(vectors)), vectors)
            store.tune(threads=1, **knob)
            found = np.array([store.search(q[None, :], 10)[1][0] for q in asked])
            out[name][factory] = _recall(found, truth)
    return out
