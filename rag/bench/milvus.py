"""`rag bench --milvus N`: the Milvus store beside FAISS at N vectors, in one run: query p50/p95 and
recall@10 against exact search, for FAISS (Flat, HNSW32), Milvus Lite (FLAT, HNSW) and the 2.3.5
standalone server (HNSW).

Vectors are synthetic but clustered like embeddings (unit-norm, 384 dimensions, a fixed seed):
what is compared is the stores on the same vectors, not retrieval quality. Each question is
searched `depth` deep, as a real query is (`QuerySettings.candidates`), one at a time, through the
store classes a query uses. The server runs in a private network namespace (see
`rag.bench.milvus_server`), with this module's `child` entry point as its client.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

DIMENSION = 384
CENTRES = 256
HNSW_EF = 256
LITE_UP_TO = 200_000
"""Milvus Lite is timed up to this many vectors; larger sizes skip it, saying so. At 1M its FLAT
and HNSW rows took 27 minutes on a quiet machine (0.7-1.3 s a question; hours at load 6-12),
for a store meant for tests and development, never for serving (docs/scale.md).
`benchmarks/lite_scale.py` times it alone at any size."""
SERVER_S_PER_100K = 1800
"""The hang guard of the server's run: seconds allowed per 100k vectors (loading, HNSW, timing)."""


def synthetic(size: int, questions: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """`size` unit vectors around CENTRES random centres, and `questions` more like them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CENTRES, DIMENSION)).astype(np.float32)

    def draw(n: int) -> np.ndarray:
        picked = centres[rng.integers(0, CENTRES, size=n)]
        vectors = picked + rng.normal(scale=0.9, size=(n, DIMENSION)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return draw(size), draw(questions)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index.search(queries, k)[1]


def time_store(store, queries: np.ndarray, truth: np.ndarray, depth: int) -> dict[str, float]:
    """p50/p95 of one question at a time, and recall@10 of the first ten against `truth`."""
    for query in queries[:5]:  # warm-up
        store.search(query[None, :], depth)
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        _, ids = store.search(query[None, :], depth)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids[0][:10])
    recall = np.mean([len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)])
    return {"p50_ms": round(float(np.percentile(times, 50)), 2),
            "p95_ms": round(float(np.percentile(times, 95)), 2), "recall@10": round(float(recall), 4)}


def milvus_rows(uri: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, depth: int,
                indexes: Sequence[str], label: str) -> list[dict[str, Any]]:
    """Load the vectors into one collection per index type at `uri`, and time each."""
    from rag.store.milvus_store import MilvusStore, connect, load

    rows = []
    client = connect(uri, timeout=60)
    for index_type in indexes:
        name = f"bench_{index_type.lower()}"
        if client.has_collection(name):
            client.drop_collection(name)
        started = time.perf_counter()
        store = MilvusStore.for_build(client, name, vectors.shape[1], uri, index_type=index_type,
                                      ef_construction=200)
        store.add(np.arange(len(vectors)), vectors)
        client.release_collection(name)
        load(client, name)  # after the flush: the index is built on sealed segments
        load_s = time.perf_counter() - started
        store.consistency = "Bounded"  # nothing is written while timing
        store.tune(ef_search=HNSW_EF)
        rows.append({"store": label, "index": index_type, "load_s": round(load_s, 1),
                     **time_store(store, queries, truth, depth)})
        client.drop_collection(name)
    return rows


def faiss_rows(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, depth: int) -> list[dict[str, Any]]:
    from rag.store.faiss_store import FaissStore

    rows = []
    for factory in ("Flat", "HNSW32"):
        started = time.perf_counter()
        store = FaissStore(vectors.shape[1], factory=factory, ef_construction=200)
        store.add(np.arange(len(vectors), dtype=np.int64), vectors)
        store.tune(ef_search=HNSW_EF, threads=1)
        load_s = time.perf_counter() - started
        rows.append({"store": "FAISS", "index": factory, "load_s": round(load_s, 1),
                     **time_store(store, queries, truth, depth)})
    return rows


def run_milvus(sizes: Sequence[int], questions: int = 200, depth: int = 100, server: bool = True,
               say: Callable[[str], None] = lambda message: None,
               lite_up_to: int = LITE_UP_TO) -> dict[str, Any]:
    """The table rows for each size; the server's rows are skipped (with the reason) where it
    cannot run here, Milvus Lite's above `lite_up_to` vectors."""
    results: dict[str, Any] = {"depth": depth, "questions": questions, "rows": [], "skipped": []}
    for size in sizes:
        say(f"milvus bench: {size} synthetic vectors")
        vectors, queries = synthetic(size, questions)
        truth = exact_top(vectors, queries)
        rows = faiss_rows(vectors, queries, truth, depth)
        with tempfile.TemporaryDirectory(prefix="rag-bench-milvus-") as scratch:
            scratch = Path(scratch)
            if size <= lite_up_to:
                say("milvus bench: Milvus Lite")
                rows += milvus_rows(str(scratch / "lite.db"), vectors, queries, truth, depth, ("FLAT", "HNSW"),
                                    "Milvus Lite")
            else:
                results["skipped"].append(f"{size}: Milvus Lite: not timed above {lite_up_to} vectors "
                                          "(27 minutes at 1M on a quiet machine; a store for tests, not for serving; "
                                          "benchmarks/lite_scale.py times it alone)")
            if server:
                say("milvus bench: the standalone server (private network namespace)")
                served, reason = _server_rows(scratch, vectors, queries, truth, depth,
                                              timeout=SERVER_S_PER_100K * max(1.0, size / 100_000))
                rows += served
                if reason:
                    results["skipped"].append(f"{size}: standalone server: {reason}")
        results["rows"] += [{"size": size, **row} for row in rows]
    return results


def _server_rows(scratch: Path, vectors, queries, truth, depth, timeout: float) -> tuple[list[dict], str]:
    """Run `child` in a new network namespace (root only); ([], reason) when it cannot."""
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        return [], f"{', '.join(missing)} not found"
    for name, array in (("vectors", vectors), ("queries", queries), ("truth", truth)):
        np.save(scratch / f"{name}.npy", array)
    command = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" -m rag.bench.milvus child "$1" "$2"',
               sys.executable, str(scratch), str(depth)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], f"did not finish within {timeout / 60:.0f} minutes"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return [], (lines[-1] if lines else done.stderr.strip().splitlines()[-1:] or ["no output"])[0][:300]
    reply = json.loads(lines[-1])
    return reply.get("rows", []), reply.get("skipped", "")


def child(scratch: Path, depth: int) -> dict[str, Any]:
    """Inside the namespace: start the server, time it, stop it."""
    from rag.bench.milvus_server import ServerUnavailable, start

    try:
        server = start(scratch / "server", timeout=150)
    except ServerUnavailable as exc:
        return {"rows": [], "skipped": str(exc)}
    try:
        vectors, queries, truth = (np.load(scratch / f"{n}.npy") for n in ("vectors", "queries", "truth"))
        return {"rows": milvus_rows(server.uri, vectors, queries, truth, depth, ("HNSW",), "Milvus 2.3.5 server")}
    finally:
        server.stop()


def format_milvus(results: dict[str, Any]) -> str:
    lines = [f"vector stores, one question at a time, {results['depth']} deep, {results['questions']} questions",
             f"{'size':>9}  {'store':<20} {'index':<7} {'load s':>7} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9}"]
    for row in results["rows"]:
        lines.append(f"{row['size']:>9}  {row['store']:<20} {row['index']:<7} {row['load_s']:>7} "
                     f"{row['p50_ms']:>7} {row['p95_ms']:>7} {row['recall@10']:>9}")
    lines += [f"skipped: {reason}" for reason in results["skipped"]]
    return "\n".join(lines)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "child":
    print(json.dumps(child(Path(sys.argv[2]), int(sys.argv[3]))), flush=True)
