"""The scale benchmark: FAISS index types at 100k+ passages, on synthetic unit vectors.

The vectors are clustered like sentence embeddings (1,000 topic centres, each point about 0.6
cosine from its centre) rather than uniform on the sphere, which no real corpus is and which is
the worst case for graph indexes. Queries are fresh points from the same distribution. Each index
type is timed through `rag.store.FaissStore`, the code path of a real query: one query at a time,
`candidates` deep, as `rank` asks. Recall@10 is against exact search of the same vectors.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from rag.store import FaissStore

CENTRES = 1000
NOISE = 0.068
"""Per-dimension noise around a centre: at d=384 a point is ~0.6 cosine from its centre."""


def synthetic(rows: int, dim: int, seed: int, centres: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(unit vectors, the centres they were drawn around), reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    if centres is None:
        centres = rng.standard_normal((CENTRES, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((rows, dim), dtype=np.float32)
    for start in range(0, rows, 100_000):  # in slices: bounded temporary memory at 1M rows
        n = min(100_000, rows - start)
        block = centres[rng.integers(0, len(centres), n)] + NOISE * rng.standard_normal((n, dim), dtype=np.float32)
        out[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, centres


def rss_mb() -> float:
    """Current resident memory of this process, from /proc (0 where unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _latency(store: FaissStore, queries: np.ndarray, depth: int) -> tuple[float, np.ndarray]:
    samples, found = [], []
    for query in queries:
        mark = time.perf_counter()
        _, ids = store.search(query[None, :], depth)
        samples.append(time.perf_counter() - mark)
        found.append(ids[0][:10])
    return round(float(np.median(samples)) * 1000, 3), np.array(found)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])), 4)


def run_scale(
    sizes: Sequence[int],
    *,
    dim: int = 384,
    queries: int = 200,
    depth: int = 100,
    factories: Sequence[str] = ("HNSW32",),
    ef_searches: Sequence[int] = (64, 128, 256),
    exact_points: Sequence[int] = (10_000, 25_000, 50_000, 100_000),
    threads: int = 1,
    say: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Build, time and check each index type at each size; also exact search at smaller sizes
    (to choose where "auto" stops searching exactly)."""
    results: dict[str, Any] = {"dim": dim, "queries": queries, "depth": depth, "search_threads": threads,
                               "sizes": []}
    for size in sizes:
        say(f"[scale {size}] generating vectors")
        vectors, centres = synthetic(size, dim, seed=1)
        questions, _ = synthetic(queries, dim, seed=2, centres=centres)
        ids = np.arange(size, dtype=np.int64)
        entry: dict[str, Any] = {"size": size, "vectors_mb": round(vectors.nbytes / 2**20, 1), "indexes": []}

        before = rss_mb()
        mark = time.perf_counter()
        exact = FaissStore(dim, factory="Flat")
        exact.add(ids, vectors)
        build = time.perf_counter() - mark
        exact.tune(threads=threads)
        p50, truth = _latency(exact, questions, depth)
        entry["indexes"].append({"factory": "Flat", "build_s": round(build, 2),
                                 "memory_mb": round(rss_mb() - before, 1), "p50_ms": p50, "recall@10": 1.0})
        say(f"[scale {size}] Flat: p50 {p50} ms")
        del exact

        for factory in factories:
            say(f"[scale {size}] building {factory}")
            before = rss_mb()
            mark = time.perf_counter()
            store = FaissStore(dim, factory=factory)
            store.add(ids, vectors)
            build = time.perf_counter() - mark
            memory = round(rss_mb() - before, 1)
            for ef in ef_searches:
                store.tune(ef_search=ef, nprobe=max(1, ef // 8), threads=threads)
                p50, found = _latency(store, questions, depth)
                entry["indexes"].append({"factory": factory, "ef_search": ef, "nprobe": max(1, ef // 8),
                                         "build_s": round(build, 2), "memory_mb": memory, "p50_ms": p50,
                                         "recall@10": _recall(found, truth)})
                say(f"[scale {size}] {factory} ef={ef}: p50 {p50} ms, recall@10 {entry['indexes'][-1]['recall@10']}")
            del store

        entry["exact_by_size"] = []
        for n in exact_points:
            if n > size:
                continue
            store = FaissStore(dim, factory="Flat")
            store.add(ids[:n], vectors[:n])
            store.tune(threads=threads)
            p50, _ = _latency(store, questions[: min(queries, 100)], depth)
            entry["exact_by_size"].append({"size": n, "p50_ms": p50})
            del store
        results["sizes"].append(entry)
        del vectors
    return results


def format_scale(results: dict[str, Any]) -> str:
    lines = [f"== scale (synthetic clustered unit vectors, d={results['dim']}, "
             f"{results['queries']} queries, {results['depth']} deep)"]
    for entry in results["sizes"]:
        for row in entry["indexes"]:
            ef = f" ef={row['ef_search']}" if "ef_search" in row else ""
            if "ef_search" in row and not row["factory"].startswith("HNSW"):
                ef = f" nprobe={max(1, row['ef_search'] // 8)}"
            lines.append(f"{entry['size']:>9,} {row['factory'] + ef:<18} build {row['build_s']:>7.2f} s  "
                         f"+{row['memory_mb']:>7.1f} MB  p50 {row['p50_ms']:>7.3f} ms  recall@10 {row['recall@10']}")
        exact = ", ".join(f"{e['size']:,}: {e['p50_ms']} ms" for e in entry["exact_by_size"])
        if exact:
            lines.append(f"{'':>9} exact p50 by size: {exact}")
    return "\n".join(lines)
