"""Incremental builds: only new text is embedded, and the result equals a full rebuild."""

import shutil

import numpy as np
import pytest

from rag.index import Index
from rag.store import manifest
from rag.store.build import SENTENCE_VECTORS, build_index
from rag.store.chunkstore import ChunkStore
from rag.store.faiss_store import FaissStore
from rag.store.probes import PROBES

QUESTIONS = ["Which fruit is yellow?", "Where does the train go?", "When do cherry trees flower?"]


class Spy:
    """Wraps an embedder and records every text it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.texts = inner, []
        self.identity, self.dimension = inner.identity, inner.dimension
        self.max_tokens, self.count_tokens = inner.max_tokens, inner.count_tokens

    def embed(self, texts, progress=False):
        self.texts.extend(texts)
        return self.inner.embed(texts)


def snapshot(settings, embedder):
    """Everything a build holds that answers depend on, in a comparable form."""
    build = manifest.current_build(settings.index_dir)
    store, chunks = FaissStore.load(build), ChunkStore(build)
    ids = np.arange(chunks.chunk_count)
    rows = [(c.chunk, c.digest) for c in chunks.chunks(ids)]
    sentences = np.load(build / SENTENCE_VECTORS).astype(np.float32)
    index = Index(build, settings, embedder)
    answers = [index.ask(q).to_dict() for q in QUESTIONS]
    index.close()
    chunks.close()
    return rows, store.vectors(ids), sentences, answers


def assert_same(a, b, atol=0.0):
    assert a[0] == b[0]  # same passages: sources, offsets, lines, text digests
    assert np.allclose(a[1], b[1], atol=atol) and np.allclose(a[2], b[2], atol=max(atol, 1e-3))
    for x, y in zip(a[3], b[3]):
        assert [p["source"] for p in x["passages"]] == [p["source"] for p in y["passages"]]
        assert [(p["start"], p["end"], p["highlights"]) for p in x["passages"]] == [
            (p["start"], p["end"], p["highlights"]) for p in y["passages"]
        ]
        assert x["answered"] == y["answered"]


def full_rebuild(settings, tmp_path, embedder):
    fresh = settings.with_overrides(index_dir=tmp_path / "full", embedding_cache=False)
    build_index(fresh, embedder=embedder)
    return snapshot(fresh, embedder)


def test_edit_add_delete_embed_only_new_text_and_equal_a_full_rebuild(tiny_settings, keyword_embedder, tmp_path):
    spy = Spy(keyword_embedder)
    first = build_index(tiny_settings, embedder=spy)
    assert first.embedded == first.passages + first.sentences and first.reused == 0
    docs = tiny_settings.docs_dir

    # Edit one file: only its new sentence and the passage that holds it are embedded.
    spy.texts.clear()
    with open(docs / "fruit.txt", "a", encoding="utf-8") as handle:
        handle.write("Bananas ripen on the train.\n")
    edited = build_index(tiny_settings, embedder=spy, force=False)
    assert edited.rebuilt and edited.reused > 0
    assert spy.texts and all("Bananas ripen" in t for t in spy.texts)
    assert edited.embedded == len(spy.texts)
    assert_same(snapshot(tiny_settings, keyword_embedder), full_rebuild(tiny_settings, tmp_path / "a", keyword_embedder))

    # Add a file: only its text is embedded.
    spy.texts.clear()
    (docs / "sea.txt").write_text("The river meets the sea. Apple boats sail there.\n", encoding="utf-8")
    build_index(tiny_settings, embedder=spy, force=False)
    assert spy.texts and all(t in (docs / "sea.txt").read_text() for t in spy.texts)
    assert_same(snapshot(tiny_settings, keyword_embedder), full_rebuild(tiny_settings, tmp_path / "b", keyword_embedder))

    # Delete a file: nothing is embedded and its passages are gone.
    spy.texts.clear()
    (docs / "travel.md").unlink()
    deleted = build_index(tiny_settings, embedder=spy, force=False)
    assert spy.texts == [] and deleted.embedded == 0
    after = snapshot(tiny_settings, keyword_embedder)
    assert all(chunk.source != "travel.md" for chunk, _ in after[0])
    assert_same(after, full_rebuild(tiny_settings, tmp_path / "c", keyword_embedder))


def test_unchanged_documents_embed_nothing(tiny_settings, keyword_embedder):
    spy = Spy(keyword_embedder)
    build_index(tiny_settings, embedder=spy)
    spy.texts.clear()
    again = build_index(tiny_settings, embedder=spy, force=False)
    assert not again.rebuilt and spy.texts == []
    forced = build_index(tiny_settings, embedder=spy, force=True)  # forced: rebuilt from the cache
    assert forced.rebuilt and spy.texts == [] and forced.embedded == 0


def test_cache_is_pruned_to_the_current_build(tiny_settings, keyword_embedder):
    import sqlite3

    first = build_index(tiny_settings, embedder=keyword_embedder)
    (tiny_settings.docs_dir / "travel.md").unlink()
    second = build_index(tiny_settings, embedder=keyword_embedder, force=False)
    [cache] = (tiny_settings.index_dir / "embeddings").glob("*.sqlite")
    with sqlite3.connect(cache) as db:
        rows = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    probes = len(PROBES)  # the probe questions' vectors are kept too (rag.store.probes)
    assert rows <= second.passages + second.sentences + probes < first.passages + first.sentences + probes


@pytest.mark.slow
def test_real_model_incremental_equals_full_rebuild(embedder, tmp_path):
    from rag.config import Settings
    from tests.conftest import SEEDS

    docs = tmp_path / "docs"
    docs.mkdir()
    for path in sorted(SEEDS.glob("*.txt"))[:2]:
        shutil.copy(path, docs / path.name)
    settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=tmp_path / "index", backend="torch")
    build_index(settings, embedder=embedder)
    target = sorted(docs.iterdir())[0]
    target.write_text(target.read_text(encoding="utf-8") + "\nMark Rutte visited the river port.\n",
                      encoding="utf-8")
    report = build_index(settings, embedder=embedder, force=False)
    assert 0 < report.embedded < 10 and report.reused > 0
    incremental = snapshot(settings, embedder)
    assert_same(incremental, full_rebuild(settings, tmp_path, embedder), atol=1e-5)
