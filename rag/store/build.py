"""Build an index: load -> chunk -> embed -> write, into a new build folder, switched to atomically.

A build that fails or is killed leaves the previous build current and usable; two builds at once
are refused by a lock with a clear message.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
import time
from contextlib import ExitStack, contextmanager
from functools import partial
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from rag.config import Settings
from rag.embed.cache import CachedEmbedder
from rag.embed.embedder import Embedder, SentenceTransformerEmbedder
from rag.embed.sentence_vectors import embed_build
from rag.errors import (
    DocumentError,
    IndexCorruptError,
    IndexLockedError,
    IndexMissingError,
    IndexWriteError,
)
from rag.ingest.chunking import Chunk, Chunker
from rag.ingest.documents import LoadResult, Skipped, load_folder
from rag.ingest.extractions import FOLDER as EXTRACTIONS
from rag.ingest.matching import match_text
from rag.ingest.readers import FORMAT as READERS_FORMAT
from rag.ingest.sentences import Sentence
from rag.store import chunkstore, manifest
from rag.store.faiss_store import FaissStore, choose_factory
from rag.store.lexical import LexicalIndex
from rag.store.probes import PROBES, probe_level

log = logging.getLogger(__name__)

SENTENCE_VECTORS = "sentences.npy"
ENCODERS = "encoders"
LOCK = ".lock"


@dataclass(frozen=True)
class FileReport:
    """One indexed file: how many passages it gave, and how it was read when not plain UTF-8."""

    source: str
    passages: int
    note: str = ""

    def message(self) -> str:
        count = f"{self.passages} passage{'s' if self.passages != 1 else ''}"
        return f"{self.source} {self.note + '; ' if self.note else ''}indexed in {count}"


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI to print and the benchmarks to record."""

    build: Path
    documents: int
    passages: int
    sentences: int
    skipped: list[Skipped]
    seconds: dict[str, float] = field(default_factory=dict)
    rebuilt: bool = True
    reasons: list[str] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)
    embedded: int = 0
    """Passages and sentences actually run through the model (the rest came from the cache)."""
    reused: int = 0


def load_embedder(settings: Settings) -> Embedder:
    """The embedding model named in the settings, run by the backend they name (torch, or ONNX
    Runtime from an export kept in `settings.encoder_cache`, by default `<index_dir>/encoders/`)."""
    if settings.index.backend == "torch":
        return SentenceTransformerEmbedder(
            settings.index.model, settings.device, settings.batch_size, settings.threads
        )
    from rag.embed.onnx_backend import OnnxEmbedder

    cache = settings.encoder_cache or Path(settings.index_dir) / ENCODERS
    return OnnxEmbedder(
        settings.index.model, settings.index.backend, cache, settings.batch_size, settings.threads,
        spinning=settings.encoder_spinning, streams=settings.encoder_streams or usable_cores(),
    )


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def build_index(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    documents: LoadResult | None = None,
    progress: bool = False,
    force: bool = True,
    say: Callable[[str], None] = lambda message: None,
) -> BuildReport:
    """Build the index of `settings.docs_dir` (or of `documents`) into `settings.index_dir`.

    With force=False an index that is already up to date is left alone (rebuilt=False).
    """
    settings.validate()
    index_dir = Path(settings.index_dir)
    with _writing(index_dir):
        index_dir.mkdir(parents=True, exist_ok=True)
    with _lock(index_dir):
        if not force and documents is None:
            fresh = _fresh_build(settings, say)
            if fresh is not None:
                return fresh
        if settings.index.store == "milvus":  # unreachable or refused: fail before embedding anything
            from rag.store.milvus_store import connect

            connect(settings.index.milvus_uri, settings.milvus_token, settings.index.milvus_db).close()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        max_bytes = int(settings.index.max_document_mb * 1_000_000)
        loaded = documents if documents is not None else load_folder(
            settings.docs_dir, max_bytes, settings.index.readers, index_dir / EXTRACTIONS)
        for item in loaded.skipped:
            say(f"{item.source} {item.reason}")
        if loaded.reused:
            say(f"{loaded.reused} PDF, DOCX or HTML files unchanged since the last build: their text was not read again")
        if not loaded.documents:
            raise DocumentError(f"no usable documents in {settings.docs_dir}: nothing to index")
        timings["load"] = time.perf_counter() - started

        given = embedder
        if embedder is None:
            mark = time.perf_counter()
            embedder = load_embedder(settings)
            timings["model_load"] = time.perf_counter() - mark
        _export_question_encoder(settings, embedder)

        with ExitStack() as stack:
            if settings.workers or settings.ray_address:
                embedder = _on_workers(stack, settings, embedder, given, say)
            cache = CachedEmbedder(embedder, index_dir) if settings.embedding_cache else None
            try:
                report = _build(settings, index_dir, embedder, cache, loaded, timings, started, progress, say)
                if cache is not None:
                    cache.prune()
                return report
            finally:
                if cache is not None:
                    cache.close()


def _export_question_encoder(settings: Settings, embedder: Embedder) -> None:
    """Export the graph questions will be embedded with, when it differs from the passages' (int8
    questions, `QuerySettings.question_backend`), so that the first question does not wait for it."""
    backend = settings.query.question_backend_for(settings.index.backend, settings.index.embed_sentences)
    if backend != settings.index.backend and hasattr(embedder, "export_sibling"):
        embedder.export_sibling(backend)


def _on_workers(stack: ExitStack, settings: Settings, local: Embedder, given: Embedder | None, say) -> Embedder:
    """`local` with its model calls moved to Ray workers for the rest of the build. Each worker
    loads the model of the settings with one encoder thread (a worker is one CPU), or is sent the
    embedder the caller gave."""
    from rag.embed.distributed import ray_embedder

    load = partial(_same, given) if given is not None else partial(load_embedder, replace(settings, threads=1, encoder_streams=1))
    where = settings.ray_address or f"a local Ray cluster of {settings.workers} workers on 127.0.0.1"
    say(f"embedding on {where}")
    return stack.enter_context(ray_embedder(local, load, settings.workers, settings.ray_address))


def _same(embedder: Embedder) -> Embedder:
    return embedder


@dataclass(frozen=True)
class Cut:
    """The documents of a build cut into passages and sentences (each a (document number, span)
    pair, as `chunkstore.write` takes them), with every passage's text."""

    loaded: LoadResult
    chunks: list[tuple[int, Chunk]]
    sentences: list[tuple[int, Sentence]]
    texts: list[str]
    files: list[FileReport]


@dataclass(frozen=True)
class Embedded:
    """One unit-norm vector per passage, and per sentence unless sentences are not embedded."""

    passages: np.ndarray
    sentences: np.ndarray | None
    made: dict | None = None
    """How the sentence vectors were made (SentenceVectorReport.record), for the manifest."""


def _build(
    settings: Settings,
    index_dir: Path,
    embedder: Embedder,
    cache: CachedEmbedder | None,
    loaded: LoadResult,
    timings: dict[str, float],
    started: float,
    progress: bool,
    say: Callable[[str], None],
) -> BuildReport:
    """Chunk, embed (through the cache when there is one), write, switch."""
    mark = time.perf_counter()
    cut = _cut(settings, embedder, loaded, say)
    timings["chunk"] = time.perf_counter() - mark
    embedded = _embed(settings, embedder, cache, cut, timings, progress, say)
    count = cache.embedded if cache is not None else len(cut.chunks) + len(cut.sentences)
    reused = cache.reused if cache is not None else 0
    # The probe questions go through the cache too, so only an index's first build embeds them
    # (the counts above are of document text only).
    probes = (cache if cache is not None else embedder).embed(list(PROBES))

    mark = time.perf_counter()
    with _writing(index_dir):
        build = _write_build(index_dir, settings, embedder, cut, embedded, timings, probes)
        timings["write"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
        manifest.point_to(index_dir, build)
    _remove_old_builds(index_dir, keep=build)
    if cache is not None:
        say(f"embedded {count} passages and sentences; {reused} were already embedded "
            "(cached from an earlier build, or repeated text)")
    return BuildReport(
        build, len(cut.loaded.documents), len(cut.chunks), len(cut.sentences), cut.loaded.skipped,
        timings, files=cut.files, embedded=count, reused=reused,
    )


def _cut(settings: Settings, embedder: Embedder, loaded: LoadResult, say: Callable[[str], None]) -> Cut:
    """Every document split into sentences and passages; one that cannot be is skipped, named."""
    chunker = Chunker(
        settings.index.chunking, embedder.count_tokens, embedder.max_tokens,
        getattr(embedder, "tokens_add_up", False),  # test doubles may not say
    )
    chunks, sentences, files, kept, failed = [], [], [], [], []
    for document in loaded.documents:
        try:
            found = chunker.sentences(document)
            passages = chunker.chunk(document, found)
        except Exception as exc:  # a bug on one file must not keep the others out
            log.exception("cannot split %s", document.source)
            failed.append(Skipped(
                document.source,
                f"could not be split into passages ({exc.__class__.__name__}: {exc}): "
                "not indexed; please report this",
            ))
            say(f"{document.source} {failed[-1].reason}")
            continue
        sentences.extend((len(kept), s) for s in found)
        chunks.extend((len(kept), c) for c in passages)
        kept.append(document)
        files.append(FileReport(document.source, len(passages), document.note))
        say(files[-1].message())
    if failed:
        loaded = replace(loaded, documents=kept, skipped=loaded.skipped + failed)
        if not kept:
            raise DocumentError(f"no document in {settings.docs_dir} could be split into passages")
    documents = loaded.documents
    texts = [match_text(documents[d].text[c.start : c.end], documents[d].kind) for d, c in chunks]
    return Cut(loaded, chunks, sentences, texts, files)


def _embed(
    settings: Settings, embedder: Embedder, cache: CachedEmbedder | None, cut: Cut, timings: dict[str, float],
    progress: bool, say: Callable[[str], None],
) -> Embedded:
    """The passages' vectors and (when highlights use them) the sentences', made as
    `settings.index.sentence_vectors` says (rag/embed/sentence_vectors.py)."""
    say(f"{len(cut.texts)} passages from {len(cut.loaded.documents)} documents"
        + (f", {len(cut.sentences)} sentences for highlighting" if settings.index.embed_sentences else ""))
    passages, sentences, report = embed_build(
        settings.index.sentence_vectors, embedder, cache, cut.loaded.documents, cut.chunks, cut.sentences,
        cut.texts, progress, settings.index.embed_sentences,
    )
    timings.update(report.seconds)
    if sentences is not None and report.method != settings.index.sentence_vectors:
        say(f"sentence vectors made {report.method}, not {settings.index.sentence_vectors}: this model "
            "(or the Ray workers) gives no token states; the manifest records it")
    return Embedded(passages, sentences, report.record() if sentences is not None else None)


def _fresh_build(settings: Settings, say: Callable[[str], None]) -> BuildReport | None:
    try:
        build = manifest.current_build(settings.index_dir)
        current = manifest.read(build)
        manifest.verify(build, current)
    except IndexMissingError:
        return None
    except IndexCorruptError as exc:
        say(f"the index cannot be used ({exc}): rebuilding it")
        return None
    try:
        if Path(current.docs_dir or "") != Path(settings.docs_dir).resolve():
            return None
        if current.stale_reasons(settings.index):
            return None
        counts = current.counts
        return BuildReport(
            build, counts["documents"], counts["passages"], counts["sentences"],
            [Skipped(**s) for s in current.data.get("skipped", [])], rebuilt=False,
        )
    except (KeyError, TypeError, ValueError) as exc:  # a manifest with odd contents
        say(f"the index manifest in {build} is not as expected ({exc!r}): rebuilding it")
        return None


def _write_build(
    index_dir: Path, settings: Settings, embedder: Embedder, cut: Cut, embedded: Embedded,
    timings: dict[str, float], probes: np.ndarray,
) -> Path:
    """Every file of a new build, written into a staging folder renamed into place when complete."""
    loaded, chunks, sentences = cut.loaded, cut.chunks, cut.sentences
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"build-{stamp}-{os.getpid()}"
    staging = index_dir / f".{name}.partial"
    staging.mkdir()
    try:
        synced = None
        if settings.index.store == "milvus":
            from rag.store.milvus_collections import write_collection

            factory = f"milvus {settings.index.milvus_index}"
            store, synced = write_collection(
                settings, name, embedder.dimension, embedder.identity, loaded.documents, chunks, embedded.passages
            )
            parameters = {"efConstruction": settings.index.hnsw_ef_construction} if "HNSW" in factory else {}
        else:
            factory = choose_factory(settings.index.dense_index, len(chunks), settings.index.exact_up_to)
            store = FaissStore(
                embedder.dimension, factory=factory, ef_construction=settings.index.hnsw_ef_construction
            )
            store.add(np.arange(len(chunks), dtype=np.int64), embedded.passages)
            parameters = store.build_parameters
        level = probe_level(probes, store.search) if len(chunks) else 0.0
        store.save(staging)
        LexicalIndex.build(cut.texts).save(staging)
        if embedded.sentences is not None:
            np.save(staging / SENTENCE_VECTORS, embedded.sentences.astype(np.float16))
        chunkstore.write(staging, loaded.documents, chunks, sentences)
        files = manifest.file_record(staging)
        manifest.write(
            staging,
            {
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "model": embedder.identity,
                "settings": settings.index.to_dict(),
                "docs_dir": str(Path(settings.docs_dir).resolve()) if settings.docs_dir else None,
                "fingerprint": loaded.fingerprint,
                "readers_format": READERS_FORMAT,
                "formats": {d.source: d.kind for d in loaded.documents if d.kind != "text"},
                "skipped": [{"source": s.source, "reason": s.reason} for s in loaded.skipped],
                "decoded": {d.source: d.encoding for d in loaded.documents if d.encoding != "utf-8"},
                "counts": {
                    "documents": len(loaded.documents),
                    "passages": len(chunks),
                    "sentences": len(sentences),
                },
                "timings": {k: round(v, 3) for k, v in timings.items()},
                "files": files,
                "dense_index": factory,
                "dense_parameters": parameters,
                "probe_level": round(level, 6),
                **({"milvus_sync": synced} if synced is not None else {}),
                **({"sentence_vectors": embedded.made} if embedded.made is not None else {}),
            },
        )
        build = index_dir / name
        os.rename(staging, build)
        return build
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_old_builds(index_dir: Path, keep: Path) -> None:
    """Old builds, abandoned partial ones and temporary files left by a killed build; a reader
    still holding files open keeps its copy (runs under the build lock)."""
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry != keep and (
            entry.name.startswith("build-") or entry.name.endswith(".partial")
        ):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file() and entry.name.startswith(".") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)


@contextmanager
def _writing(index_dir: Path) -> Iterator[None]:
    """OS and SQLite write failures (disk full, permissions) as an IndexWriteError."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise IndexWriteError(
            f"cannot write the index in {index_dir} ({reason}); the previous index is unchanged: "
            "free some space or fix the permissions, then run `rag index` again"
        ) from exc


@contextmanager
def _lock(index_dir: Path) -> Iterator[None]:
    path = index_dir / LOCK
    with _writing(index_dir):
        handle = open(path, "a+")
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLockedError(
                f"another `rag index` is building {index_dir} right now; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
