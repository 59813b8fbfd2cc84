"""The scale benchmark: FAISS index types at 100k-1M passages, and the lexical side and chunk store
at the same size.

Vectors: real MiniLM embeddings of a BEIR corpus's passages (SciFact: ~9k passages, chunked and
embedded by the project's own code, cached as .npz), plus synthetic vectors drawn from a mixture
fitted to them (see `Mixture`), so that an N-vector corpus has the statistics of real passage
embeddings. Queries are the corpus's real question embeddings. Each index type is timed through
`rag.store.faiss_store.FaissStore`, the code path of a real query: one query at a time, `depth` deep (what
hybrid retrieval asks for), one search thread. Recall@10 is against exact search of the same
vectors.

The lexical part (`run_text_scale`) builds the BM25 index and the SQLite chunk store of N
synthetic passages (real sentences of the corpus, shuffled together) through the project's own
code, and reports build time, size on disk, open time, memory after opening, and query latency.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from rag.config import Settings
from rag.store.faiss_store import FaissStore

if TYPE_CHECKING:
    from rag.ingest.chunking import Chunk
    from rag.ingest.documents import Document
    from rag.ingest.sentences import Sentence

MIXTURE_COMPONENTS = 256
"""Clusters of the fitted mixture: ~35 real passages each at SciFact's size."""


# ---------------------------------------------------------------------------------------------
# Real vectors


def _documents(corpus_file: Path) -> list[tuple[str, str]]:
    """(id, "title\\n\\ntext") of each document of a BEIR corpus.jsonl."""
    out = []
    with Path(corpus_file).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                title = (record.get("title") or "").strip()
                text = (record.get("text") or "").strip()
                out.append((str(record["_id"]), f"{title}\n\n{text}\n" if title else f"{text}\n"))
    return out


def _questions(corpus_file: Path) -> list[str]:
    queries = Path(corpus_file).with_name("queries.jsonl")
    if not queries.is_file():
        return []
    return [json.loads(line)["text"] for line in queries.read_text(encoding="utf-8").splitlines() if line.strip()]


def real_embeddings(
    corpus_file: Path, settings: Settings, cache_dir: Path, say: Callable[[str], None] = lambda m: None
) -> tuple[np.ndarray, np.ndarray]:
    """(passage vectors, question vectors) of a BEIR corpus, chunked and embedded as `rag index`
    would; computed once and kept in `cache_dir` (keyed by corpus, model, backend and chunking)."""
    import hashlib

    from rag.store.build import load_embedder
    from rag.ingest.chunking import Chunker
    from rag.ingest.documents import Document

    key = hashlib.sha1(
        json.dumps([str(Path(corpus_file).resolve()), settings.index.model, settings.index.backend,
                    settings.index.to_dict()["chunking"]], sort_keys=True).encode()
    ).hexdigest()[:12]
    cache = Path(cache_dir) / f"real-{Path(corpus_file).parent.name}-{key}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            return stored["passages"], stored["questions"]
    embedder = load_embedder(settings)
    chunker = Chunker(settings.index.chunking, embedder.count_tokens, embedder.max_tokens)
    texts = []
    for source, text in _documents(corpus_file):
        document = Document(source=f"{source}.txt", text=text, sha256="")
        texts.extend(text[c.start : c.end] for c in chunker.chunk(document))
    say(f"[scale] embedding {len(texts):,} real passages of {corpus_file} (once; cached in {cache})")
    passages = embedder.embed(texts).astype(np.float32)
    questions = embedder.embed(_questions(corpus_file)).astype(np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, passages=passages, questions=questions)
    return passages, questions


# ---------------------------------------------------------------------------------------------
# Synthetic vectors with the statistics of the real ones


@dataclass(frozen=True)
class Mixture:
    """A Gaussian mixture fitted to real unit vectors: k-means clusters, each a Gaussian with its
    own mean and the empirical covariance of its members (drawn as mean + z @ residuals /
    sqrt(n - 1), z standard normal), then normalised. Topic structure (the clusters), each
    topic's own spread and its low intrinsic dimension are kept; a single full-covariance
    Gaussian keeps the global spectrum but not the topics, and spreads points more evenly than
    any corpus does (see docs/benchmarks.md for the nearest-neighbour check)."""

    centres: np.ndarray
    weights: np.ndarray
    residuals: tuple[np.ndarray, ...]

    @classmethod
    def fit(cls, vectors: np.ndarray, components: int = MIXTURE_COMPONENTS, seed: int = 0) -> "Mixture":
        import faiss

        kmeans = faiss.Kmeans(vectors.shape[1], components, niter=20, seed=seed, spherical=False)
        kmeans.train(np.ascontiguousarray(vectors, dtype=np.float32))
        _, labels = kmeans.index.search(vectors, 1)
        labels = labels[:, 0]
        centres, weights, residuals = [], [], []
        for c in range(components):
            members = vectors[labels == c]
            if len(members) < 2:
                continue
            mean = members.mean(axis=0)
            centres.append(mean)
            weights.append(len(members))
            residuals.append(((members - mean) / np.sqrt(len(members) - 1)).astype(np.float32))
        weights = np.array(weights, dtype=np.float64)
        return cls(np.array(centres, dtype=np.float32), weights / weights.sum(), tuple(residuals))

    def sample(self, rows: int, seed: int, block: int = 100_000) -> np.ndarray:
        """`rows` unit vectors, reproducible from `seed`, made `block` rows at a time."""
        rng = np.random.default_rng(seed)
        out = np.empty((rows, self.centres.shape[1]), dtype=np.float32)
        for start in range(0, rows, block):
            n = min(block, rows - start)
            picks = rng.choice(len(self.weights), size=n, p=self.weights)
            part = out[start : start + n]
            for c in np.unique(picks):
                where = np.flatnonzero(picks == c)
                z = rng.standard_normal((len(where), len(self.residuals[c])), dtype=np.float32)
                part[where] = self.centres[c] + z @ self.residuals[c]
            part /= np.linalg.norm(part, axis=1, keepdims=True)
        return out


def gaussian(vectors: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """The alternative measured against `Mixture`: one Gaussian with the real mean and full
    covariance, normalised."""
    rng = np.random.default_rng(seed)
    mean = vectors.mean(axis=0)
    factor = np.linalg.cholesky(np.cov(vectors, rowvar=False) + 1e-6 * np.eye(vectors.shape[1]))
    out = (mean + rng.standard_normal((rows, vectors.shape[1])) @ factor.T).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def corpus_vectors(real: np.ndarray, size: int, mixture: Mixture, seed: int = 1) -> np.ndarray:
    """`size` vectors: all the real ones (or the first `size`), then synthetic ones."""
    if size <= len(real):
        return np.ascontiguousarray(real[:size])
    out = np.empty((size, real.shape[1]), dtype=np.float32)
    out[: len(real)] = real
    out[len(real) :] = mixture.sample(size - len(real), seed=seed)
    return out


def neighbour_cosines(vectors: np.ndarray, queries: np.ndarray | None = None, k: int = 10) -> dict[str, float]:
    """Quantiles of the cosine to the nearest neighbour (other than itself) and to the 10th,
    by exact search: how crowded the space is around each point (or each query)."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    own = queries is None
    scores, _ = index.search(vectors if own else queries, k + 1)
    first, tenth = (scores[:, 1], scores[:, k]) if own else (scores[:, 0], scores[:, k - 1])
    q = (0.1, 0.5, 0.9)
    return {
        **{f"nn1_p{int(x * 100)}": round(float(np.quantile(first, x)), 3) for x in q},
        **{f"nn10_p{int(x * 100)}": round(float(np.quantile(tenth, x)), 3) for x in q},
    }


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


def _folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 2**20, 1)


def synthetic_passages(
    corpus_file: Path, size: int, per_document: int = 10, seed: int = 5
) -> tuple[list[Document], list[tuple[int, Chunk]], list[tuple[int, Sentence]], list[str]]:
    """`size` passages of 3-5 real sentences of the corpus drawn at random, `per_document` to a
    document (paragraphs separated by a blank line): documents, (doc, passage) and (doc,
    sentence) pairs as `chunkstore.write` takes them, and the passage texts."""
    from rag.ingest.chunking import Chunk
    from rag.ingest.documents import Document
    from rag.ingest.sentences import Sentence, split_sentences

    pool = []
    for _, text in _documents(corpus_file):
        pool.extend(" ".join(text[s.start : s.end].split()) for s in split_sentences(text) if s.end - s.start > 20)
    rng = np.random.default_rng(seed)
    documents, chunks, sentences, texts = [], [], [], []
    for doc, first in enumerate(range(0, size, per_document)):
        parts, offset = [], 0
        for line, _ in enumerate(range(first, min(size, first + per_document))):
            picked = [pool[i] for i in rng.integers(0, len(pool), rng.integers(3, 6))]
            start = offset
            for sentence in picked:
                sentences.append((doc, Sentence(offset, offset + len(sentence))))
                offset += len(sentence) + 1
            passage = " ".join(picked)
            chunks.append((doc, Chunk(f"doc{doc:07d}.txt", start, start + len(passage), 2 * line + 1, 2 * line + 1)))
            texts.append(passage)
            parts.append(passage)
            offset = start + len(passage) + 2
        documents.append(Document(f"doc{doc:07d}.txt", "\n\n".join(parts), sha256=f"{doc:064x}"))
    return documents, chunks, sentences, texts


def run_text_scale(
    corpus_file: Path, size: int, workdir: Path, queries: Sequence[str], say: Callable[[str], None] = lambda m: None
) -> dict[str, Any]:
    """Build the BM25 index and the chunk store of `size` synthetic passages with the project's
    own code; time building, opening (as `open_index` does) and lexical queries; memory after
    opening is the RSS growth of this process (the index files are memory-mapped: pages are
    counted once touched)."""
    import gc

    from rag.store import chunkstore
    from rag.store.lexical import LexicalIndex

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"[text {size}] generating passages")
    documents, chunks, sentences, texts = synthetic_passages(corpus_file, size)
    out: dict[str, Any] = {"size": size, "documents": len(documents), "sentences": len(sentences),
                           "text_mb": round(sum(len(t) for t in texts) / 2**20, 1)}
    say(f"[text {size}] building the lexical index")
    before = rss_mb()
    mark = time.perf_counter()
    LexicalIndex.build(texts).save(workdir)
    out["lexical_build_s"] = round(time.perf_counter() - mark, 1)
    out["lexical_build_rss_mb"] = round(rss_mb() - before, 1)
    gc.collect()
    say(f"[text {size}] writing the chunk store")
    mark = time.perf_counter()
    chunkstore.write(workdir, documents, chunks, sentences)
    out["chunkstore_build_s"] = round(time.perf_counter() - mark, 1)
    del documents, chunks, sentences, texts
    gc.collect()
    out["lexical_disk_mb"] = _folder_mb(workdir / "lexical")
    out["chunkstore_disk_mb"] = round((workdir / chunkstore.FILE).stat().st_size / 2**20, 1)

    before = rss_mb()
    mark = time.perf_counter()
    store = chunkstore.ChunkStore(workdir)
    out["chunkstore_open_s"] = round(time.perf_counter() - mark, 2)
    out["chunkstore_open_rss_mb"] = round(rss_mb() - before, 1)
    rng = np.random.default_rng(6)
    samples = []
    for i in rng.integers(0, size, 200):
        mark = time.perf_counter()
        store.chunks([int(i), int(i) + 1 if i + 1 < size else 0])
        samples.append(time.perf_counter() - mark)
    out["chunkstore_fetch_p50_ms"] = round(float(np.median(samples)) * 1000, 3)

    before = rss_mb()
    mark = time.perf_counter()
    lexical = LexicalIndex.load(workdir, size)
    out["lexical_open_s"] = round(time.perf_counter() - mark, 2)
    out["lexical_open_rss_mb"] = round(rss_mb() - before, 1)
    samples = []
    for question in queries:
        mark = time.perf_counter()
        lexical.search(lexical.query_tokens(question), 100)
        samples.append(time.perf_counter() - mark)
    out["lexical_queries"] = len(samples)
    out["lexical_p50_ms"] = round(float(np.percentile(samples, 50)) * 1000, 2)
    out["lexical_p95_ms"] = round(float(np.percentile(samples, 95)) * 1000, 2)
    out["rss_after_queries_mb"] = round(rss_mb() - before, 1)
    say(f"[text {size}] {out}")
    return out


def format_text_scale(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["== lexical index and chunk store at scale (synthetic passages of real sentences)"]
    for r in rows:
        lines.append(
            f"{r['size']:>9,} passages ({r['text_mb']} MB of text): BM25 build {r['lexical_build_s']} s "
            f"(+{r['lexical_build_rss_mb']} MB), {r['lexical_disk_mb']} MB on disk, opened in {r['lexical_open_s']} s "
            f"(+{r['lexical_open_rss_mb']} MB), query p50 {r['lexical_p50_ms']} ms p95 {r['lexical_p95_ms']} ms "
            f"(+{r['rss_after_queries_mb']} MB after {r['lexical_queries']} queries); chunk store build "
            f"{r['chunkstore_build_s']} s, {r['chunkstore_disk_mb']} MB, opened in {r['chunkstore_open_s']} s "
            f"(+{r['chunkstore_open_rss_mb']} MB), fetch p50 {r['chunkstore_fetch_p50_ms']} ms"
        )
    return "\n".join(lines)


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
