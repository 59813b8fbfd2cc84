"""Shared fixtures: the real model loaded once per session, and a tiny keyword embedder whose
vectors can be worked out by hand."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


class KeywordEmbedder:
    """One dimension per vocabulary word: a text's vector counts the vocabulary words in it,
    normalised to unit length (all-zero texts get the last, 'other' dimension)."""

    def __init__(self, vocabulary):
        self.vocabulary = list(vocabulary)
        self.dimension = len(self.vocabulary) + 1
        self.max_tokens = 10_000
        self.identity = {"name": "keyword-test", "dimension": self.dimension}
        self.calls = 0

    def embed(self, texts, progress=False):
        self.calls += 1
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"[a-z0-9]+", text.lower())
            for column, term in enumerate(self.vocabulary):
                vectors[row, column] = words.count(term)
            if not vectors[row].any():
                vectors[row, -1] = 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


@pytest.fixture
def keyword_embedder():
    return KeywordEmbedder(["apple", "banana", "cherry", "river", "mountain", "train"])


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded once for the whole session."""
    from rag.embed.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seed_index(embedder, tmp_path_factory):
    """A real index of a copy of the seeds, built once; tests must not modify it."""
    from rag.config import Settings
    from rag.index import ensure_index

    docs = tmp_path_factory.mktemp("seeds")
    for path in SEEDS.iterdir():
        shutil.copy(path, docs / path.name)
    settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=tmp_path_factory.mktemp("index"))
    return ensure_index(settings, embedder=embedder)


@pytest.fixture
def tiny_docs(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fruit.txt").write_text(
        "Fruit\n\nThe apple grows on trees. A banana is yellow and sweet.\n"
        "Cherry trees flower in spring.\n",
        encoding="utf-8",
    )
    (docs / "travel.md").write_text(
        "# Travel\n\nThe train follows the river. Then it climbs the mountain.\n", encoding="utf-8"
    )
    return docs


@pytest.fixture
def tiny_settings(tiny_docs, tmp_path):
    from rag.config import Settings

    return Settings.from_env(
        environ={}, docs_dir=tiny_docs, index_dir=tmp_path / "index", model="keyword-test"
    )


@pytest.fixture
def watched_live(tiny_settings, keyword_embedder):
    """A LiveIndex of the tiny folder with its watcher running (as the page runs it), stopped
    after the test: files added to the folder are indexed within a second or so."""
    import threading

    from rag.index import open_index
    from rag.live import LiveIndex
    from rag.store.build import build_index
    from rag.store.watch import watch

    build_index(tiny_settings, embedder=keyword_embedder)
    live = LiveIndex(open_index(settings=tiny_settings, embedder=keyword_embedder))
    running = threading.Event()
    running.set()
    watcher = threading.Thread(target=watch, daemon=True, kwargs=dict(
        settings=tiny_settings, embedder=keyword_embedder, interval=0.2, keep_going=running.is_set))
    watcher.start()
    yield live
    running.clear()
    watcher.join(timeout=30)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, once per module; a skip saying how to install it
    when it is missing (any other failure to start is an error)."""
    from tests.browser_tools import INSTALL_HINT, chromium

    try:
        with chromium() as browser:
            yield browser
    except RuntimeError as exc:
        if str(exc) != INSTALL_HINT:
            raise
        pytest.skip(INSTALL_HINT)
