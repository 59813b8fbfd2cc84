"""Open the index an evaluation measures: seeds built or refreshed, a BEIR corpus built once into
its own folder, and a question-embedding cache so three modes embed each question once."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

import numpy as np


class CachedEmbedder:
    """Wraps an embedder and remembers the vectors of texts it has embedded, so the same question
    asked in three modes and at two depths is embedded once (vectors are identical)."""

    def __init__(self, embedder):
        self._embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}
        self._bypass = False

    @contextmanager
    def uncached(self):
        """Embed afresh inside this block (to time a question as a user would wait for it)."""
        self._bypass = True
        try:
            yield
        finally:
            self._bypass = False

    def embed(self, texts, progress: bool = False) -> np.ndarray:
        if self._bypass:
            vectors = self._embedder.embed(list(texts), progress=progress)
            self._vectors.update(zip(texts, vectors))
            return vectors
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, self._embedder.embed(missing, progress=progress)):
                self._vectors[text] = vector
        return np.stack([self._vectors[t] for t in texts])

    def __getattr__(self, name):
        return getattr(self._embedder, name)


def source_reader(index):
    """`read_source` for `load_questions`: a document's text, KeyError when it is not indexed."""

    def read(source: str) -> str:
        if not index.chunks.has_source(source):
            raise KeyError(source)
        return index.document_text(source)

    return read


def folder_reader(docs_dir):
    """`read_source` for `load_questions` from a documents folder, decoded as the index reads it."""
    from rag.ingest.documents import load_folder

    texts = {d.source: d.text for d in load_folder(docs_dir).documents}
    return texts.__getitem__


def open_question_index(settings, embedder=None, say=lambda message: None):
    """The index of `settings.docs_dir`, built or refreshed first, with a question cache."""
    from rag.index import Index, ensure_index
    from rag.store.build import load_embedder

    embedder = embedder or load_embedder(settings)
    built = ensure_index(settings, embedder=embedder, say=say)
    return Index(built.build, settings, CachedEmbedder(embedder))


def eval_settings(settings, depth: int):
    """The settings of an evaluation run: the user-facing cap on k raised to `depth` (eval only)."""
    query = settings.query
    return settings.with_overrides(max_k=max(query.max_k, depth), candidates=max(query.candidates, depth))


def open_beir_index(settings, beir, embedder=None, say=lambda message: None):
    """The index of a BEIR corpus in `settings.index_dir`, built only when missing or stale."""
    from rag.errors import RagError
    from rag.index import Index
    from rag.store import manifest
    from rag.store.build import build_index, load_embedder

    settings = replace(settings, docs_dir=None)  # the corpus is not a folder: no freshness checks
    embedder = embedder or load_embedder(settings)
    try:
        build = manifest.current_build(settings.index_dir)
        built = manifest.read(build)
        fresh = not built.stale_reasons(settings.index) and built.fingerprint == beir.documents.fingerprint
    except RagError:
        fresh = False
    if not fresh:
        say(f"indexing {len(beir.documents.documents)} documents of {beir.name} into {settings.index_dir}")
        build = build_index(settings, documents=beir.documents, embedder=embedder, progress=True, say=say).build
    return Index(build, settings, CachedEmbedder(embedder))
