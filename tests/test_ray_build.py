"""`rag index --workers N`: the same index as the in-process build, embedded on a local Ray
cluster bound to loopback. Ray is an optional extra (`pip install .[distributed]`), not in the
test extra: these tests skip where it is not installed."""

import os
import sqlite3
import subprocess
import sys

import faiss
import numpy as np
import pytest

pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install '.[distributed]'")

from rag.store import manifest  # noqa: E402
from rag.store.build import SENTENCE_VECTORS, build_index  # noqa: E402
from tests.conftest import ROOT, SEEDS  # noqa: E402


def contents(index_dir):
    """What a build holds: its passage and sentence rows, and its vectors."""
    build = manifest.current_build(index_dir)
    with sqlite3.connect(build / "chunks.sqlite") as db:
        rows = [db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                for table in ("documents", "chunks", "sentences")]
    index = faiss.read_index(str(build / "dense.faiss"))
    vectors = index.reconstruct_batch(np.arange(index.ntotal, dtype=np.int64))
    sentences = np.load(build / SENTENCE_VECTORS).astype(np.float32)
    return rows, vectors, sentences, manifest.read(build)


def assert_same_index(a, b):
    rows_a, vectors_a, sentences_a, manifest_a = a
    rows_b, vectors_b, sentences_b, manifest_b = b
    assert rows_a == rows_b
    assert vectors_a.shape == vectors_b.shape and np.abs(vectors_a - vectors_b).max() <= 1e-6
    assert np.abs(sentences_a - sentences_b).max() <= 1e-3  # stored as float16
    assert manifest_a.data["settings"] == manifest_b.data["settings"]
    assert manifest_a.model == manifest_b.model


@pytest.mark.slow  # a Ray cluster starts in ~1 min on the busy machine
def test_workers_build_equals_in_process_build(tiny_settings, keyword_embedder, tmp_path):
    from ray import cloudpickle

    # The workers cannot import pytest's conftest module: send the test embedder's class by value.
    cloudpickle.register_pickle_by_value(sys.modules[type(keyword_embedder).__module__])
    build_index(tiny_settings, embedder=keyword_embedder)
    spread = tiny_settings.with_overrides(index_dir=tmp_path / "ray-index", workers=2)
    messages = []
    report = build_index(spread, embedder=keyword_embedder, say=messages.append)
    assert "embedding on a local Ray cluster of 2 workers on 127.0.0.1" in messages
    assert report.embedded == report.passages + report.sentences
    assert_same_index(contents(tiny_settings.index_dir), contents(spread.index_dir))
    import ray

    assert not ray.is_initialized()  # the cluster was shut down with the build


@pytest.mark.slow
def test_cli_workers_2_gives_the_same_index_as_the_default_build(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_ENCODER_CACHE"] = str(tmp_path / "encoders")  # one ONNX export for both builds

    def rag(*args):
        result = subprocess.run([sys.executable, "-m", "rag.cli", "index", SEEDS, "--quiet", *args],
                                capture_output=True, text=True, cwd=ROOT, env=env, timeout=1200)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    rag("--index-dir", tmp_path / "default")
    result = rag("--index-dir", tmp_path / "workers", "--workers", "2")
    assert "embedding on a local Ray cluster of 2 workers on 127.0.0.1" in result.stderr
    assert_same_index(contents(tmp_path / "default"), contents(tmp_path / "workers"))
