"""The dense index type: chosen by corpus size, configurable by FAISS factory string, recorded."""

import numpy as np
import pytest

from rag.errors import ConfigError
from rag.index import open_index
from rag.store import manifest
from rag.store.build import build_index
from rag.store.faiss_store import FaissStore, choose_factory


def unit(rows, dim, seed=0):
    x = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_auto_is_exact_up_to_the_limit_then_hnsw():
    assert choose_factory("auto", 10, exact_up_to=10) == "Flat"
    assert choose_factory("auto", 11, exact_up_to=10) == "HNSW32"
    assert choose_factory("IVF4,Flat", 5, exact_up_to=10) == "IVF4,Flat"


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF4,Flat"])
def test_every_factory_finds_the_vector_itself_and_honours_allowed_ids(factory, tmp_path):
    vectors = unit(400, 16)
    store = FaissStore(16, factory=factory)
    store.add(np.arange(400), vectors)
    store.tune(ef_search=64, nprobe=4)  # nprobe=4 of 4 lists: exhaustive, so exact
    store.save(tmp_path)
    loaded = FaissStore.load(tmp_path)
    loaded.tune(ef_search=64, nprobe=4)
    scores, ids = loaded.search(vectors[7:8], 5)
    assert ids[0][0] == 7 and scores[0][0] == pytest.approx(1.0, abs=1e-5)
    allowed = np.array([3, 50, 99])
    _, ids = loaded.search(vectors[7:8], 3, allowed)
    assert set(ids[0]) <= set(allowed.tolist())
    assert np.allclose(loaded.vectors(np.array([7])), vectors[7:8], atol=1e-6)


def test_a_bad_factory_string_says_so():
    with pytest.raises(ConfigError, match="factory"):
        FaissStore(16, factory="NotAnIndex")


def test_the_chosen_index_is_recorded_and_a_change_makes_the_index_stale(tiny_settings, keyword_embedder):
    settings = tiny_settings.with_overrides(exact_up_to=1)  # the tiny corpus is "large": HNSW
    build_index(settings, embedder=keyword_embedder)
    recorded = manifest.read(manifest.current_build(settings.index_dir))
    assert recorded.data["dense_index"] == "HNSW32"
    answer = open_index(settings=settings, embedder=keyword_embedder).ask("Where does the train go?")
    assert answer.passages[0].source == "travel.md"
    reasons = recorded.stale_reasons(tiny_settings.index)  # default limit: exact search wanted
    assert any("dense index" in r for r in reasons)
    assert recorded.stale_reasons(settings.index, check_documents=False) == []


def test_search_threads_are_restored_after_a_search():
    import faiss

    store = FaissStore(16)
    store.add(np.arange(50), unit(50, 16))
    store.tune(threads=1)
    before = faiss.omp_get_max_threads()
    _, ids = store.search(unit(1, 16, seed=3), 5)
    assert len(ids[0]) == 5 and faiss.omp_get_max_threads() == before


def test_hnsw_ef_construction_is_applied_kept_on_disk_and_matches_exact_search(tmp_path):
    vectors, questions = unit(300, 16), unit(20, 16, seed=5)
    exact = FaissStore(16)
    exact.add(np.arange(300), vectors)
    graph = FaissStore(16, factory="HNSW16", ef_construction=100)
    assert graph.build_parameters == {"efConstruction": 100}
    graph.add(np.arange(300), vectors)
    graph.save(tmp_path)
    loaded = FaissStore.load(tmp_path)
    assert loaded.build_parameters == {"efConstruction": 100}
    loaded.tune(ef_search=300)  # the whole graph: an easy case, so exact
    assert np.array_equal(loaded.search(questions, 5)[1], exact.search(questions, 5)[1])
    assert FaissStore(16, factory="Flat", ef_construction=100).build_parameters == {}


def test_the_hnsw_build_setting_is_recorded_and_a_change_makes_the_index_stale(tiny_settings, keyword_embedder):
    settings = tiny_settings.with_overrides(exact_up_to=1, hnsw_ef_construction=16)
    build_index(settings, embedder=keyword_embedder)
    recorded = manifest.read(manifest.current_build(settings.index_dir))
    assert recorded.data["dense_parameters"] == {"efConstruction": 16}
    assert recorded.data["settings"]["hnsw_ef_construction"] == 16
    assert recorded.stale_reasons(settings.index, check_documents=False) == []
    changed = settings.with_overrides(hnsw_ef_construction=32)
    assert any("hnsw_ef_construction" in r for r in recorded.stale_reasons(changed.index, check_documents=False))
    with pytest.raises(ConfigError, match="hnsw_ef_construction"):
        settings.with_overrides(hnsw_ef_construction=0).validate()
