"""`rag bench` helpers: the arithmetic and the corpus conversion (figures themselves are not tested)."""

import json

import pytest

from rag.bench import Report, beir_corpus, format_table, percentiles
from rag.bench_scale import format_scale, run_scale
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


def test_scale_benchmark_reports_every_index_and_exact_recall_is_one():
    results = run_scale([3000], dim=16, queries=20, depth=20, factories=("HNSW32",),
                        ef_searches=(64,), exact_points=(1000, 5000))
    [entry] = results["sizes"]
    flat, hnsw = entry["indexes"]
    assert flat["factory"] == "Flat" and flat["recall@10"] == 1.0
    assert hnsw["factory"] == "HNSW32" and 0.5 <= hnsw["recall@10"] <= 1.0
    assert [e["size"] for e in entry["exact_by_size"]] == [1000]  # 5000 > 3000 is skipped
    assert "HNSW32" in format_scale(results)
    assert "HNSW32" in format_table(Report(machine={}, settings={}, scale=results))


def test_table_shows_the_peers_and_the_speed_up():
    row = lambda p50, recall: {"latency": {"p50_ms": p50, "p95_ms": p50 * 2}, "recall@5": recall,  # noqa: E731
                               "passages": 10, "mean_chars": 500}
    peers = {"questions": 3, "langchain": row(9.0, 0.7), "txtai": row(21.0, 0.7),
             "rag_hybrid": row(3.0, 0.86), "rag_dense": row(2.5, 0.81),
             "speedup_vs_faster_peer_p50": {"hybrid": 3.0, "dense": 3.6}}
    table = format_table(Report(machine={}, settings={}, peers=peers))
    assert "langchain" in table and "txtai" in table and "hybrid 3.0x, dense 3.6x" in table
