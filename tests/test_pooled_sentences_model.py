"""Token-pooled sentence vectors with the real model (ONNX and torch) on the seeds: what the
pooled method relies on, measured, and builds that use it."""

import json
import shutil

import numpy as np
import pytest

from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory):
    from rag.embed.onnx_backend import OnnxEmbedder

    return OnnxEmbedder("all-MiniLM-L6-v2", "onnx", tmp_path_factory.mktemp("encoders"))


@pytest.fixture(scope="module")
def seeds_cut(onnx_embedder):
    from rag.config import Settings
    from rag.ingest.documents import load_folder
    from rag.store.build import _cut

    settings = Settings.from_env(environ={}, docs_dir=SEEDS)
    loaded = load_folder(SEEDS, 10**8, settings.index.readers)
    return _cut(settings, onnx_embedder, loaded, lambda message: None)


def test_one_forward_pass_gives_the_texts_vectors_and_its_token_states(embedder, onnx_embedder):
    text = sorted(SEEDS.glob("*.txt"))[0].read_text(encoding="utf-8")
    texts = [text[:700], "  Who  is\nMark Rutte? ", text[700:1000]]
    vectors, states = onnx_embedder.embed_tokens(texts)
    assert np.abs(vectors - onnx_embedder.embed(texts)).max() < 1e-5
    torch_vectors, torch_states = embedder.embed_tokens(texts)
    assert np.abs(torch_vectors - embedder.embed(texts)).max() < 1e-4
    for ours, theirs, text in zip(states, torch_states, texts):
        assert ours.text == " ".join(text.split()) and ours.states.shape == (len(ours.offsets), 384)
        assert np.array_equal(ours.offsets, theirs.offsets)  # the same word pieces, special tokens left out
        assert np.abs(ours.states - theirs.states).max() < 1e-3
        assert all(0 <= a < b <= len(ours.text) for a, b in ours.offsets)
        assert np.all(np.diff(ours.offsets[:, 0]) > 0)  # in text order, as `pool_spans` searches them


def test_a_pooled_sentence_vector_is_nearest_its_own_sentence_embedded_alone(onnx_embedder, seeds_cut):
    """What the method relies on: pooling a sentence's word pieces out of its passage gives a
    vector that stands for that sentence: closest, of all the seeds' sentences embedded alone, to
    its own (measured: 84% nearest, 95% in the first 3, mean cosine 0.80)."""
    from rag.embed.sentence_vectors import embed_build
    from rag.ingest.matching import match_text

    cut = seeds_cut
    _, pooled, report = embed_build("pooled", onnx_embedder, None, cut.loaded.documents, cut.chunks,
                                    cut.sentences, cut.texts)
    assert report.method == "pooled" and report.pooled >= 0.95 * len(cut.sentences)
    documents = cut.loaded.documents
    alone = onnx_embedder.embed([match_text(documents[d].text[s.start:s.end], documents[d].kind)
                                 for d, s in cut.sentences])
    cosines = pooled @ alone.T
    own = np.diag(cosines)
    nearest = (cosines.argmax(axis=1) == np.arange(len(own))).mean()
    top3 = np.mean([row in np.argsort(-cosines[row])[:3] for row in range(len(own))])
    assert nearest >= 0.75 and top3 >= 0.9 and own.mean() >= 0.7, (nearest, top3, own.mean())
    assert np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-5)


def test_a_pooled_build_after_an_edit_equals_a_full_pooled_build(onnx_embedder, tmp_path):
    from rag.config import Settings
    from rag.store.build import build_index

    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=tmp_path / "index", sentence_vectors="pooled")
    build_index(settings, embedder=onnx_embedder)
    first = sorted(docs.glob("*.txt"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n\nA new closing sentence was added here.\n",
                     encoding="utf-8")
    again = build_index(settings, embedder=onnx_embedder, force=False)
    full = build_index(settings.with_overrides(index_dir=tmp_path / "full"), embedder=onnx_embedder)
    assert 0 < again.embedded < full.embedded  # only the edited file's passages went through the model
    made = json.loads((again.build / "manifest.json").read_text())["sentence_vectors"]
    assert made["method"] == "pooled" and made["pooled"] + made["embedded_alone"] == again.sentences
    assert np.array_equal(np.load(again.build / "sentences.npy"), np.load(full.build / "sentences.npy"))
