"""The ONNX backend reproduces the PyTorch one (the reference) with the real model."""

import numpy as np
import pytest

from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory):
    from rag.onnx_embedding import OnnxEmbedder

    return OnnxEmbedder("all-MiniLM-L6-v2", "onnx", tmp_path_factory.mktemp("encoders"))


def test_onnx_vectors_and_token_counts_match_torch(embedder, onnx_embedder):
    text = sorted(SEEDS.glob("*.txt"))[0].read_text(encoding="utf-8")
    texts = ["Who is Mark Rutte?", text[:300], text[300:1500], "  spaced\n\nout   text  "]
    reference, vectors = embedder.embed(texts), onnx_embedder.embed(texts)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.abs(vectors - reference).max() < 1e-4
    assert onnx_embedder.count_tokens(texts) == embedder.count_tokens(texts)
    assert onnx_embedder.identity["backend"] == "onnx" and embedder.identity["backend"] == "torch"
    assert onnx_embedder.max_tokens == embedder.max_tokens


def test_backend_is_part_of_the_index_identity(tmp_path):
    from rag.config import IndexSettings
    from rag.manifest import Manifest

    built = Manifest({"model": {"name": "all-MiniLM-L6-v2"}, "docs_dir": None,
                      "settings": IndexSettings(backend="torch").to_dict()})
    assert built.stale_reasons(IndexSettings(backend="torch")) == []
    assert any("backend" in r for r in built.stale_reasons(IndexSettings(backend="onnx")))
