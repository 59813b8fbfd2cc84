"""`rag bench --milvus N`: the rows it prints, on a few synthetic vectors (Milvus Lite and FAISS;
the standalone server's row is covered by tests/test_milvus_server.py's way of starting it)."""

import pytest

pytest.importorskip("milvus_lite", reason="Milvus Lite is not installed: pip install '.[milvus]'")

from rag.bench.milvus import exact_top, format_milvus, run_milvus, synthetic  # noqa: E402


def test_synthetic_vectors_are_unit_and_fixed():
    a, qa = synthetic(50, 5)
    b, _ = synthetic(50, 5)
    assert (a == b).all() and a.shape == (50, 384) and qa.shape == (5, 384)
    assert abs(float((a * a).sum(axis=1).min()) - 1) < 1e-5


def test_milvus_bench_rows_beside_faiss():
    results = run_milvus([400], questions=20, depth=50, server=False)
    rows = {(r["store"], r["index"]): r for r in results["rows"]}
    assert set(rows) == {("FAISS", "Flat"), ("FAISS", "HNSW32"), ("Milvus Lite", "FLAT"), ("Milvus Lite", "HNSW")}
    # Exact search finds the exact top 10 (ties aside, which these vectors do not have).
    assert rows["FAISS", "Flat"]["recall@10"] == 1.0 and rows["Milvus Lite", "FLAT"]["recall@10"] == 1.0
    assert all(r["p95_ms"] >= r["p50_ms"] > 0 for r in rows.values())
    assert "Milvus Lite" in format_milvus(results) and results["skipped"] == []
    vectors, queries = synthetic(400, 20)
    assert exact_top(vectors, queries).shape == (20, 10)


def test_sizes_above_the_lite_limit_skip_lite_and_say_so():
    results = run_milvus([300], questions=10, depth=20, server=False, lite_up_to=200)
    assert {r["store"] for r in results["rows"]} == {"FAISS"}
    assert len(results["skipped"]) == 1 and "300: Milvus Lite: not timed above 200" in results["skipped"][0]
    assert "skipped: 300: Milvus Lite" in format_milvus(results)
