"""`rag bench` helpers: the arithmetic and the corpus conversion (figures themselves are not tested)."""

import json
from pathlib import Path

import numpy as np
import pytest

from rag.bench.corpora import beir_corpus
from rag.bench.report import Report, format_table
from rag.bench.scale import format_scale, parse_config, run_scale
from rag.bench.scale_text import format_text_scale, run_text_scale, synthetic_passages
from rag.bench.scale_vectors import Mixture, corpus_vectors, neighbour_cosines
from rag.bench.stats import percentiles
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
    assert "spinning" not in table  # rows a figure file lacks are left out, not an error
    peers["rag_hybrid_spinning_encoder"] = row(2.4, 0.86)
    peers["speedup_vs_faster_peer_p50"]["hybrid_spinning_encoder"] = 3.75
    table = format_table(Report(machine={}, settings={}, peers=peers))
    assert "rag_hybrid_spinning_encoder" in table and "hybrid_spinning_encoder 3.75x" in table
    assert "idle" not in table
    peers["rag_http_hybrid"] = {"latency": {"p50_ms": 4.5, "p95_ms": 6.0}, "passages": 10}  # no recall of its own
    assert "rag_http_hybrid" in format_table(Report(machine={}, settings={}, peers=peers))
    peers["speedup_vs_faster_peer_p50_after_pause"] = {"hybrid": 2.5}
    line = format_table(Report(machine={}, settings={}, peers=peers)).splitlines()[-1]
    assert line.startswith("the same, each after 0.2 s idle") and line.endswith("hybrid 2.5x")


# -- the HTTP part (rag/bench/http_latency.py) ------------------------------------------------------------


def test_settings_reach_the_server_process_unchanged(tmp_path):
    from rag.bench.http_latency import settings_from, settings_overrides
    from rag.config import Settings

    settings = Settings.from_env(environ={}, docs_dir=tmp_path / "docs", index_dir=tmp_path / "index",
                                 backend="torch", question_cache=0, encoder_cache=tmp_path / "enc",
                                 threads=1, **{"chunking.max_tokens": 100})
    flat = json.loads(json.dumps(settings_overrides(settings)))  # as the child receives them
    assert flat["query.question_cache"] == 0 and flat["index.chunking.max_tokens"] == 100
    assert settings_from(flat) == settings
    assert settings_from(json.loads(json.dumps(settings_overrides(Settings())))) == Settings()


def test_http_overhead_is_the_difference_of_p50s_and_the_median_of_paired_differences():
    from rag.bench.stats import paired_overhead

    over_http = [0.012, 0.020, 0.013]  # seconds, question by question
    in_process = [0.010, 0.011, 0.0105]  # the second question met a busy moment over HTTP only
    figures = paired_overhead(over_http, in_process)
    assert figures["overhead_p50_ms"] == 2.5  # 13 - 10.5
    assert figures["overhead_paired_median_ms"] == 2.5  # median of 2, 9, 2.5
    assert paired_overhead([0.004], [0.0045])["overhead_p50_ms"] == -0.5


def test_table_shows_http_latency_and_its_overhead():
    q = lambda p50: {"p50_ms": p50, "p95_ms": p50 + 1, "p99_ms": p50 + 2, "n": 4}  # noqa: E731
    corpus = {"corpus": "tiny", "documents": 1, "passages": 2, "sentences": 3, "passage_tokens": 40,
              "model_load_s": 0.1, "model": {"backend": "onnx"}, "build_s": {}, "embed_passages_per_s": 1,
              "embed_tokens_per_s": 1, "embed_sentences_per_s": 1, "rebuild_unchanged_s": 0.0,
              "rebuild_unchanged_embedded": False, "peak_rss_mb": 100,
              "query": {"dense": q(10.0)},
              "query_http": {"dense": {**q(12.5), "overhead_p50_ms": 2.5}}}
    table = format_table(Report(machine={}, settings={}, corpora=[corpus]))
    assert "query dense" in table
    assert "HTTP dense" in table and "p50 12.50 ms" in table and "+2.50 ms vs in-process p50" in table


def test_a_server_that_cannot_start_is_reported_with_its_error(tmp_path):
    from rag.bench.http_latency import serving
    from rag.config import Settings
    from rag.errors import BenchError

    settings = Settings.from_env(environ={}, docs_dir=tmp_path, index_dir=tmp_path / "no-index")
    with pytest.raises(BenchError, match="exited with code .*no-index"):
        with serving(settings):
            pass


@pytest.fixture
def torch_tiny_settings(tiny_docs, tmp_path, embedder):
    """The tiny documents indexed with the real model (torch: the child loads it with no export)."""
    from rag.config import Settings
    from rag.store.build import build_index

    settings = Settings.from_env(environ={}, docs_dir=tiny_docs, index_dir=tmp_path / "index",
                                 backend="torch")
    build_index(settings, embedder=embedder)
    return settings


@pytest.mark.slow
def test_bench_times_every_mode_in_process_and_over_http_on_a_tiny_index(tiny_docs, tmp_path, embedder,
                                                                          monkeypatch):
    from rag.bench import runner as bench
    from rag.config import MODES, Settings

    monkeypatch.setattr("rag.store.build.load_embedder", lambda settings: embedder)
    questions = ("Which fruit is yellow?", "Where does the train go?", "When do cherry trees flower?")
    corpus = bench.Corpus("tiny", tiny_docs, questions)
    settings = Settings.from_env(environ={}, backend="torch")
    said = []
    figures = bench.bench_corpus(corpus, settings, tmp_path / "index", len(questions), said.append)
    assert set(figures["query"]) == {*MODES, "embed_question_only", "hybrid_repeated_question",
                                     "hybrid_after_pause"}
    assert figures["query"]["hybrid_after_pause"]["n"] == len(questions)
    assert set(figures["query_http"]) == {*MODES, "hybrid_repeated_question"}
    for row in figures["query_http"].values():
        assert row["n"] == len(questions) and "overhead_p50_ms" in row
    assert all("overhead_paired_median_ms" in figures["query_http"][mode] for mode in MODES)
    assert any("over HTTP" in line for line in said)


@pytest.mark.slow
def test_bench_server_answers_as_the_core_and_is_stopped_even_after_an_error(torch_tiny_settings,
                                                                               embedder):
    import http.client

    from rag.bench.http_latency import Client, serving
    from rag.errors import BenchError
    from rag.index import open_index

    with pytest.raises(BenchError, match="400"):
        with serving(torch_tiny_settings) as server:
            process = server.process
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            connection.request("POST", "/api/ask", json.dumps({"question": "Which fruit is yellow?"}),
                               {"Content-Type": "application/json"})
            served = json.loads(connection.getresponse().read())
            connection.close()
            with Client(server.port) as client:
                client.ask("   ")  # refused by the server (an empty question): raises
    assert process.poll() is not None  # the server was stopped on the way out
    core = open_index(settings=torch_tiny_settings, embedder=embedder).ask("Which fruit is yellow?")
    spans = lambda answer: [(p["source"], p["start"], p["end"]) for p in answer["passages"]]  # noqa: E731
    assert spans(served) == spans(core.to_dict()) and served["passages"][0]["source"] == "fruit.txt"


def test_compute_limit_counts_minilm_as_the_issue_does_and_measures_a_rate():
    from rag.bench.compute import embedding_efficiency, flops_per_token, gemm_gflops
    from rag.embed.embedder import resolve_model

    folder = Path(resolve_model("all-MiniLM-L6-v2").location)
    per_chunk = flops_per_token(folder, 256) * 256
    assert 5.5e9 < per_chunk < 6.5e9  # "about 6 GFLOP per chunk" of 256 tokens
    assert flops_per_token(folder / "missing", 256) is None
    assert gemm_gflops(rows=64, seconds=0.05) > 0
    figures = embedding_efficiency(folder, tokens=256 * 30, texts=30, seconds=1.0)
    assert figures["gflop_per_text"] == round(per_chunk / 1e9, 3)
    ratio = figures["achieved_gflops"] / figures["fp32_gemm_gflops_now"]  # both rounded to 0.1
    assert abs(figures["fraction_of_fp32_limit"] - ratio) < 0.01
    assert embedding_efficiency(folder, tokens=0, texts=0, seconds=1.0) is None
