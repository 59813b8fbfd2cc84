"""The lexical side and the chunk store at scale, for `rag bench --scale-text`: the BM25 index and
the SQLite chunk store of N synthetic passages (real sentences of the corpus, shuffled together),
built through the project's own code; build time, size on disk, open time, memory after opening,
and query latency."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from rag.bench.scale_vectors import corpus_texts
from rag.bench.stats import rss_mb

if TYPE_CHECKING:
    from rag.ingest.chunking import Chunk
    from rag.ingest.documents import Document
    from rag.ingest.sentences import Sentence


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
    for _, text in corpus_texts(corpus_file):
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
