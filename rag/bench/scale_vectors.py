"""The vectors of the scale benchmark: real MiniLM embeddings of a BEIR corpus's passages (SciFact:
~9k passages, chunked and embedded by the project's own code, cached as .npz) and its questions,
plus synthetic vectors drawn from a mixture fitted to them (`Mixture`), so that an N-vector corpus
has the statistics of real passage embeddings; and checks that the synthetic ones are as hard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from rag.config import Settings

MIXTURE_COMPONENTS = 256
"""Clusters of the fitted mixture: ~35 real passages each at SciFact's size."""


def corpus_texts(corpus_file: Path) -> list[tuple[str, str]]:
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


def corpus_questions(corpus_file: Path) -> list[str]:
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

    from rag.ingest.chunking import Chunker
    from rag.ingest.documents import Document
    from rag.store.build import load_embedder

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
    for source, text in corpus_texts(corpus_file):
        document = Document(source=f"{source}.txt", text=text, sha256="")
        texts.extend(text[c.start : c.end] for c in chunker.chunk(document))
    say(f"[scale] embedding {len(texts):,} real passages of {corpus_file} (once; cached in {cache})")
    passages = embedder.embed(texts).astype(np.float32)
    questions = embedder.embed(corpus_questions(corpus_file)).astype(np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, passages=passages, questions=questions)
    return passages, questions


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


