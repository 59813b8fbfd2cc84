"""`rag bench` helpers: the arithmetic and the corpus conversion (figures themselves are not tested)."""

import json

import numpy as np
import pytest

from rag.bench import Report, beir_corpus, format_table, percentiles
from rag.bench_scale import (
    Mixture,
    corpus_vectors,
    format_scale,
    format_text_scale,
    neighbour_cosines,
    parse_config,
    run_scale,
    run_text_scale,
    synthetic_passages,
)
from rag.errors import ConfigError


def test_percentiles_are_nearest_rank_in_milliseconds():
    samples = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    figures = percentiles(samples)
    assert (figures["p50_ms"], figures["p95_ms"], figures["p99_ms"]) == (50.0, 95.0, 99.0)
    assert figures["mean_ms"] == pytest.approx(50.5) and figures["n"] == 100
    assert percentiles([0.002])["p99_ms"] == 2.0


def test_beir_corpus_writes_title_and_text_and_honours_limit(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in [
        {"_id": "7", "title": "A title", "text": "The text."},
        {"_id": "a/b", "title": "", "text": "No title."},
        {"_id": "9", "title": "Third", "text": "Not taken."},
    ]) + "\n", encoding="utf-8")
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "1", "text": "A claim?"}) + "\n")
    result = beir_corpus(corpus, tmp_path / "work", limit=2)
    files = sorted(p.name for p in result.docs_dir.iterdir())
    assert files == ["7.txt", "a_b.txt"]
    assert (result.docs_dir / "7.txt").read_text() == "A title\n\nThe text.\n"
    assert result.questions == ("A claim?",) and result.name.endswith("[2]")
    with pytest.raises(ConfigError, match="BEIR"):
        beir_corpus(tmp_path / "missing.jsonl", tmp_path / "w2")


def _clustered(rows, dim, seed):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((8, dim))
    x = (centres[rng.integers(0, 8, rows)] + 0.5 * rng.standard_normal((rows, dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_scale_benchmark_reports_every_index_and_exact_recall_is_one():
    real = _clustered(600, 16, seed=0)
    results = run_scale([3000], real=real, questions=_clustered(30, 16, seed=1), queries=20, depth=20,
                        configs=[parse_config("HNSW16@40", [64], [4]), parse_config("IVF8,Flat", [64], [8])],
                        exact_points=(1000, 5000))
    [entry] = results["sizes"]
    flat, hnsw, ivf = entry["indexes"]
    assert flat["factory"] == "Flat" and flat["recall@10"] == 1.0
    assert hnsw["factory"] == "HNSW16" and hnsw["efConstruction"] == 40 and hnsw["ef_search"] == 64
    assert 0.5 <= hnsw["recall@10"] <= 1.0
    assert ivf["nprobe"] == 8 and ivf["recall@10"] == 1.0  # every list probed: exact
    assert [e["size"] for e in entry["exact_by_size"]] == [1000]  # 5000 > 3000 is skipped
    assert "HNSW16 efC 40 ef_search 64" in format_scale(results)
    assert "HNSW16" in format_table(Report(machine={}, settings={}, scale=results))


def test_synthetic_vectors_are_reproducible_unit_vectors_that_keep_the_real_ones():
    real = _clustered(500, 16, seed=0)
    mixture = Mixture.fit(real, components=8)
    a, b = mixture.sample(300, seed=1, block=128), mixture.sample(300, seed=1, block=128)
    assert np.array_equal(a, b) and not np.allclose(a, mixture.sample(300, seed=2, block=128))
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    corpus = corpus_vectors(real, 900, mixture)
    assert corpus.shape == (900, 16) and np.array_equal(corpus[:500], real)
    # The mixture stays near the real clusters: its points are as crowded as the real ones.
    assert abs(neighbour_cosines(mixture.sample(500, seed=2))["nn1_p50"] - neighbour_cosines(real)["nn1_p50"]) < 0.1


def test_text_scale_builds_and_opens_the_lexical_index_and_chunk_store(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"_id": str(i), "title": f"Title {i}", "text":
                      f"Trains leave the station at noon number {i}. Cats sleep most of the day. "
                      f"Rivers flow to the sea in spring."}) for i in range(20)) + "\n", encoding="utf-8")
    documents, chunks, sentences, texts = synthetic_passages(corpus, 25, per_document=10)
    assert len(documents) == 3 and len(chunks) == len(texts) == 25
    for doc, chunk in chunks:  # offsets point at the passage text, as the real chunker's do
        assert documents[doc].text[chunk.start : chunk.end] == texts[chunks.index((doc, chunk))]
    for doc, sentence in sentences:
        assert documents[doc].text[sentence.start : sentence.end].endswith(".")
    row = run_text_scale(corpus, 25, tmp_path / "work", ["When do trains leave?"])
    assert row["size"] == 25 and row["lexical_queries"] == 1 and row["chunkstore_disk_mb"] >= 0
    assert "chunk store" in format_text_scale([row])


def test_table_shows_the_peers_and_the_speed_up():
    row = lambda p50, recall: {"latency": {"p50_ms": p50, "p95_ms": p50 * 2}, "recall@5": recall,  # noqa: E731
                               "passages": 10, "mean_chars": 500}
    peers = {"questions": 3, "langchain": row(9.0, 0.7), "txtai": row(21.0, 0.7),
             "rag_hybrid": row(3.0, 0.86), "rag_dense": row(2.5, 0.81),
             "speedup_vs_faster_peer_p50": {"hybrid": 3.0, "dense": 3.6}}
    table = format_table(Report(machine={}, settings={}, peers=peers))
    assert "langchain" in table and "txtai" in table and "hybrid 3.0x, dense 3.6x" in table
