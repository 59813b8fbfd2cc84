"""The core API: open a built index and ask it questions. Every interface calls this.

    from rag import open_index
    index = open_index("index")
    answer = index.ask("Who leads NATO?", k=5)
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rag.config import MODES, Settings
from rag.embed.embedder import Embedder
from rag.errors import IndexCorruptError, IndexMissingError, QueryError, StaleIndexError
from rag.search.answer import Answer, build_answer
from rag.search.features import FEATURES, QUERY_FEATURES, TermStats
from rag.search.followup import HISTORY_WEIGHT, contextualize, helps
from rag.store.probes import PROBES, probe_level
from rag.search.query import Corpus, Query, check_k, clean_history, clean_question
from rag.search.ranking import merge_overlapping, rank, sentence_cosines, sentence_passages
from rag.search.rerank import for_backend, load_model
from rag.store import manifest
from rag.store.build import SENTENCE_VECTORS, build_index, load_embedder
from rag.store.chunkstore import ChunkStore, DocumentInfo
from rag.store.freshness import Freshness
from rag.store.lexical import LexicalIndex
from rag.store.vectors import open_store


log = logging.getLogger(__name__)


class Index:
    """A loaded index: passages, vectors, BM25, and the model that embeds questions."""

    def __init__(
        self,
        build: Path,
        settings: Settings,
        embedder: Embedder | None = None,
        *,
        check_freshness: bool = True,
        question_embedder: Embedder | None = None,
    ):
        """Open one build. With check_freshness, questions are refused once a document changes
        on disk (StaleIndexError); a LiveIndex turns this off and follows new builds instead."""
        self.build = Path(build)
        self.settings = settings
        self.manifest = manifest.read(self.build)
        manifest.verify(self.build, self.manifest)
        self.chunks = ChunkStore(self.build)
        query = settings.query
        self.store = open_store(self.build, self.manifest, settings)
        self.lexical = LexicalIndex.load(self.build, self.chunks.chunk_count)
        if len(self.store) != self.chunks.chunk_count:
            raise IndexCorruptError(
                f"{self.build} holds {len(self.store)} vectors for {self.chunks.chunk_count} "
                "passages; rebuild with `rag index`"
            )
        self.sentence_vectors = _sentence_vectors(self.build, self.manifest, self.chunks.sentence_count)
        self.corpus = Corpus(self.chunks, self.store, self.lexical, self.sentence_vectors)
        # The learned ranker reads sentence cosines; an index built without sentence vectors
        # gets the one trained on their passage stand-ins, and the cosine threshold (the
        # abstainer was calibrated on sentence signals). An int8 index has a ranker and
        # abstainer of its own (`rerank.for_backend`); its passage ranker is the float32 one.
        sentences = self.sentence_vectors is not None
        backend = self.manifest.data["model"].get("backend")
        chosen = for_backend(query.ranker, backend) if sentences else query.passage_ranker
        self.ranker = load_model(chosen, FEATURES) if chosen else None
        self.abstainer = (load_model(for_backend(query.abstainer, backend), QUERY_FEATURES)
                          if query.abstainer and self.ranker is not None and sentences else None)
        self._embedder = embedder
        self._questions = question_embedder
        self._embedder_lock = threading.Lock()
        self._freshness = Freshness(self.manifest) if check_freshness else None
        self._question_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._probe: float | None = None
        self._probe_lock = threading.Lock()
        self._cache_lock = threading.Lock()

    # -- what is indexed ---------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The question encoder, loaded on first use and kept."""
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings)
            return self._embedder

    @property
    def question_embedder(self) -> Embedder:
        """What embeds questions: the index's own model, or that model run by the settings'
        `question_backend` (e.g. int8 for questions over float32 passages). A caller's own
        embedder is used as it is."""
        built = self.manifest.data["model"]  # what the passages were embedded with
        backend = self.settings.query.question_backend_for(built.get("backend"), self.sentence_vectors is not None)
        if backend == built.get("backend"):
            return self.embedder
        if self._embedder is not None:  # a caller's own embedder (a test's) stays as it is
            identity = getattr(self._embedder, "identity", {})
            if (identity.get("backend"), identity.get("name")) != (built.get("backend"), built.get("name")):
                return self._embedder
        try:
            with self._embedder_lock:
                if self._questions is None:
                    if hasattr(self._embedder, "sibling"):  # shared by every index opened with it
                        self._questions = self._embedder.sibling(backend)
                    else:
                        self._questions = load_embedder(
                            replace(self.settings, index=replace(self.settings.index, backend=backend)))
                return self._questions
        except OSError as exc:
            if self.settings.query.question_backend != "auto":
                raise  # asked for by name: an error, not a quiet fallback
            # An index built before "auto" has no int8 export beside it, and its encoder cache
            # may not be writable (a read-only deployment): answer with its own model instead.
            log.warning("cannot make the %s question encoder (%s); questions use the index's own %s model",
                        backend, exc, built.get("backend"))
            own = self.embedder
            with self._embedder_lock:
                self._questions = own
            return own

    def documents(self) -> list[DocumentInfo]:
        return list(self.chunks.documents)

    def sources(self) -> list[str]:
        return self.chunks.sources()

    def document_text(self, source: str) -> str:
        """The full text of an indexed document; only indexed sources can be read."""
        if not isinstance(source, str) or not self.chunks.has_source(source):
            raise QueryError(f"unknown source {source!r}: not an indexed document")
        return self.chunks.text(source)

    def page_marks(self, source: str, start: int, end: int,
                   highlights: Sequence[tuple[int, int]] = ()) -> list:
        """For a PDF passage: each page it covers, with the rectangles of the passage and its
        highlights (rag.store.originals.PageMarks); [] when the pages cannot be shown."""
        from rag.store import originals

        self.document_text(source)  # only indexed sources
        if originals.original(self.chunks, self.manifest.docs_dir, source) is None:
            return []
        return originals.page_marks(self.chunks, source, start, end, highlights)

    def page_image(self, source: str, page: int) -> bytes:
        """A page of an indexed PDF as PNG, from the very file that was indexed."""
        from rag.ingest.readers import ReaderError
        from rag.store import originals

        self.document_text(source)
        data = originals.original(self.chunks, self.manifest.docs_dir, source)
        if data is None or self.chunks.kind(source) != "pdf":
            raise QueryError(f"{source} has no page images (not a PDF, or changed since it was indexed)")
        try:
            return originals.page_png(data, page)
        except ReaderError as exc:
            raise QueryError(f"{source} {exc}") from None

    def soft_wrapped(self, source: str) -> bool:
        """Whether the document's single line breaks are soft wraps (shown reflowed)."""
        self.document_text(source)
        return source in self.chunks.soft_wrapped([source])

    def skipped(self) -> list[dict]:
        """The files of the folder this build did not index, each {"source", "reason"}."""
        return [dict(item) for item in self.manifest.data.get("skipped", [])]

    def add_document(self, name: str, data: bytes, overwrite: bool = False) -> str:
        """Save an uploaded file into the documents folder (rag.ingest.uploads); returns its
        source name. The watcher (or the next `rag index`) indexes it."""
        from rag.ingest.uploads import UploadError, save_upload

        if not self.settings.upload.enabled:
            raise UploadError("uploads are turned off on this server (settings.upload.enabled)")
        return save_upload(self.settings.docs_dir, name, data,
                           max_bytes=int(self.settings.upload.max_mb * 1_000_000), overwrite=overwrite)

    def describe(self) -> dict:
        """What is indexed, for status lines and /api/health."""
        data = self.manifest.data
        return {
            "documents": data["counts"]["documents"],
            "passages": data["counts"]["passages"],
            "model": data["model"]["name"],
            "built": data["created"],
            "docs_dir": data.get("docs_dir"),
        }

    # -- questions ---------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        k: int | None = None,
        sources: Iterable[str] | None = None,
        mode: str | None = None,
        history: Sequence[str] = (),
    ) -> Answer:
        """The k best passages for `question`, with highlights, and whether they answer it.

        `history` holds the earlier questions of a conversation, oldest first; it is used only
        when the question cannot stand on its own ("And how many of them ...?").
        """
        settings = self.settings.query
        question = clean_question(question, settings.max_question_chars)
        k = check_k(k if k is not None else settings.k, settings.max_k)
        mode = mode or settings.mode
        if mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        allowed = self._allowed(sources)
        history = clean_history(history, settings.max_question_chars)
        if self._freshness is not None:
            self._freshness.check()

        query = self.query(question, mode, history)
        sentence_cos = self.sentence_cosines(query)
        by_sentence = self.sentence_ranking(query, allowed, sentence_cos)
        probe = self.probe_level() if self.abstainer is not None and mode == "hybrid" else 0.0
        ranking = rank(query, self.corpus, settings, allowed, by_sentence, self.ranker, probe, sentence_cos)
        hits = merge_overlapping(ranking.candidates, self.chunks, k)
        return build_answer(query, hits, self.corpus, settings, ranking.signals, self.abstainer)

    def probe_level(self) -> float:
        """The mean best cosine of generic probe questions in this corpus (`rag.store.probes`):
        scored at build time and kept in the manifest; computed once per open index (one encoder
        call) for a build made before that, or when questions are embedded another way
        (`question_backend`) than the passages."""
        with self._probe_lock:
            if self._probe is None:
                stored = self.manifest.data.get("probe_level")
                if stored is not None and self.question_embedder is self.embedder:
                    self._probe = float(stored)
                else:
                    vectors = self.question_embedder.embed(list(PROBES))
                    self._probe = probe_level(vectors, lambda v, k: self.store.search(v, k))
            return self._probe

    def query(self, question: str, mode: str, history: Sequence[str] = ()) -> Query:
        """The question as it will be searched: its vector and terms, the history folded in when
        the question does not stand on its own (see `rag.search.followup`)."""
        terms = self.lexical.query_tokens(question)
        context = contextualize(question, history, len(set(terms)))
        if context.uses_history:
            vectors = self._embed_questions([question, context.context])
            missing = TermStats(self.corpus, terms).missing()
            if not helps(vectors[0], vectors[1], context, missing):
                return Query(question, vectors[0], tuple(terms), mode, False)
            query_vector = vectors[0] + HISTORY_WEIGHT * vectors[1]
            query_vector /= np.linalg.norm(query_vector)
            terms = terms + [t for t in self.lexical.query_tokens(context.context) if t not in terms]
        else:
            query_vector = self._embed_questions([question])[0]
        return Query(question, query_vector, tuple(terms), mode, context.uses_history)

    def sentence_cosines(self, query: Query) -> np.ndarray | None:
        """The query's cosine with every sentence, when hybrid ranking reads them (the sentence
        list and the ranker's features share this one product)."""
        settings = self.settings.query
        wanted = settings.sentence_weight > 0 or self.ranker is not None
        if query.mode != "hybrid" or not wanted or self.sentence_vectors is None:
            return None
        return sentence_cosines(query.vector, self.sentence_vectors)

    def sentence_ranking(self, query: Query, allowed: np.ndarray | None,
                         cosines: np.ndarray | None = None) -> list[int] | None:
        """Passages ranked by their best sentence: a third fusion list and a ranker feature."""
        cosines = self.sentence_cosines(query) if cosines is None else cosines
        if cosines is None:
            return None
        return sentence_passages(
            query.vector, self.sentence_vectors, self.corpus.sentence_chunks,
            self.settings.query.candidates, allowed, cosines,
        )

    def _embed_questions(self, texts: list[str]) -> np.ndarray:
        """Question vectors, from a small per-index LRU cache when the same text was asked lately
        (a repeated question then costs no model call)."""
        size = self.settings.query.question_cache
        with self._cache_lock:
            cached = [self._question_vectors.get(t) for t in texts]
            for text in texts:
                if text in self._question_vectors:
                    self._question_vectors.move_to_end(text)
        missing = [t for t, v in zip(texts, cached) if v is None]
        if missing:
            fresh = dict(zip(missing, self.question_embedder.embed(missing)))
            cached = [v if v is not None else fresh[t] for t, v in zip(texts, cached)]
            if size > 0:
                with self._cache_lock:
                    for text, vector in fresh.items():
                        vector = np.array(vector, dtype=np.float32)
                        vector.setflags(write=False)
                        self._question_vectors[text] = vector
                    while len(self._question_vectors) > size:
                        self._question_vectors.popitem(last=False)
        return np.vstack(cached)

    def _allowed(self, sources: Iterable[str] | None) -> np.ndarray | None:
        if sources is None:
            return None
        if isinstance(sources, str):
            sources = [sources]
        try:
            sources = list(sources)
        except TypeError:
            raise QueryError(f"sources must be a list of document names, got {sources!r}") from None
        if not sources:
            return None
        unknown = [s for s in sources if not isinstance(s, str) or not self.chunks.has_source(s)]
        if unknown:
            raise QueryError(
                f"unknown source {unknown[0]!r}; indexed documents are: {', '.join(self.sources())}"
            )
        return self.chunks.chunk_ids_of(sources)

    @property
    def checks_freshness(self) -> bool:
        """True when questions are refused once a document changes on disk."""
        return self._freshness is not None

    def reopen(self, build: Path | None = None, *, check_freshness: bool = True) -> "Index":
        """Open another build of the same folder (default: the current one) with the same settings,
        sharing the model already loaded; refused when that build was made with other settings."""
        build = Path(build) if build is not None else manifest.current_build(self.settings.index_dir)
        reasons = manifest.read(build).stale_reasons(self.settings.index, check_documents=False)
        if reasons:
            raise StaleIndexError(
                f"the build {build.name} was made with other settings (" + "; ".join(reasons[:3])
                + "): restart with those settings to use it"
            )
        return Index(build, self.settings, self._embedder, check_freshness=check_freshness,
                     question_embedder=self._questions)

    def close(self) -> None:
        self.chunks.close()
        if hasattr(self.store, "close"):
            self.store.close()


def _sentence_vectors(build: Path, built: manifest.Manifest, sentences: int) -> np.ndarray | None:
    """The sentence vectors, checked against the manifest and the sentence count, read into memory
    as float32 once (stored as float16). Every hybrid question multiplies all of them by its
    vector: converting the memory-mapped float16 rows on each question cost more than the
    product itself (0.4 ms of a 4 ms query on the seeds; 2 x the file's size at every question at
    scale). The price is twice the file's size in memory, 1.5 KB a sentence."""
    path = build / SENTENCE_VECTORS
    if not built.data["settings"].get("embed_sentences", True) and not path.exists():
        return None
    try:
        vectors = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as exc:
        raise IndexCorruptError(f"{path} cannot be read ({exc}); rebuild with `rag index`") from None
    if vectors.ndim != 2 or vectors.shape[0] != sentences:
        raise IndexCorruptError(
            f"{path} holds {vectors.shape} vectors for {sentences} sentences; rebuild with `rag index`"
        )
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    matrix.setflags(write=False)
    return matrix


def open_index(
    index_dir: str | Path | None = None,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
) -> Index:
    """Open the current build in `index_dir`; refuses a stale or damaged index with a clear error."""
    settings = settings or Settings.from_env()
    if index_dir is not None:
        settings = settings.with_overrides(index_dir=Path(index_dir))
    for attempt in (1, 2):
        build = manifest.current_build(settings.index_dir)
        try:
            reasons = manifest.read(build).stale_reasons(settings.index)
            if reasons:
                raise StaleIndexError(
                    f"the index in {settings.index_dir} is stale (" + "; ".join(reasons[:5])
                    + "): rebuild with `rag index`"
                )
            return Index(build, settings, embedder)
        except IndexCorruptError:
            # A build that finished meanwhile removes the one being opened: open the new one.
            if attempt == 2 or manifest.current_build(settings.index_dir) == build:
                raise
    raise AssertionError("unreachable")


def ensure_index(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    progress: bool = False,
    say=lambda message: None,
    check_freshness: bool = True,
) -> Index:
    """Open the index of `settings.docs_dir`, building or rebuilding it first when missing or stale.
    check_freshness=False is for a LiveIndex, which follows new builds instead of refusing."""
    report = build_index(settings, embedder=embedder, progress=progress, force=False, say=say)
    try:
        index = Index(report.build, settings, embedder, check_freshness=check_freshness)
    except IndexCorruptError as exc:
        if report.rebuilt:
            raise
        say(f"the index cannot be used ({exc}): rebuilding it")
        report = build_index(settings, embedder=embedder, progress=progress, force=True, say=say)
        index = Index(report.build, settings, embedder, check_freshness=check_freshness)
    if report.rebuilt:
        say(f"built the index: {report.documents} documents, {report.passages} passages")
    return index


__all__ = ["Index", "open_index", "ensure_index", "IndexMissingError"]
