"""The probe level (what generic questions score in this corpus, read by abstention) is scored
once at build time and kept in the manifest, so no question pays for it."""

import numpy as np
import pytest

from rag.index import Index, ensure_index
from rag.store.probes import PROBES, probe_level


def test_the_build_stores_the_probe_level_and_questions_read_it(tiny_settings, keyword_embedder):
    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    stored = index.manifest.data["probe_level"]
    expected = probe_level(keyword_embedder.embed(list(PROBES)), index.store.search)
    assert stored == pytest.approx(expected, abs=1e-6)
    fresh = Index(index.build, tiny_settings, keyword_embedder)
    calls = keyword_embedder.calls
    assert fresh.probe_level() == pytest.approx(stored)
    assert keyword_embedder.calls == calls  # read from the manifest: no encoder call


def test_a_build_from_before_the_field_computes_it_once(tiny_settings, keyword_embedder):
    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    old = Index(index.build, tiny_settings, keyword_embedder)
    del old.manifest.data["probe_level"]  # as a build written before probe levels were stored
    calls = keyword_embedder.calls
    level = old.probe_level()
    assert keyword_embedder.calls == calls + 1 and old.probe_level() == level
    assert level == pytest.approx(index.manifest.data["probe_level"], abs=1e-6)
    assert np.isfinite(level)
