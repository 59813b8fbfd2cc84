"""Load the documents of a folder: each file through the reader of its format (rag.ingest.readers).

Offsets everywhere in the project are indexes into `Document.text`, so `text[start:end]` is always
the cited slice. For text and Markdown that is the file's decoded text with no newline translation
(rag.ingest.readers.text says how it is decoded); for PDF, HTML and DOCX the text their reader
extracts, with a page map (and, for PDF, character boxes) back into the file. Every file is either
indexed or reported as skipped with its reason; none is passed over silently.
"""

from __future__ import annotations

import hashlib
import logging
import os
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import ReaderSettings
from rag.errors import DocumentError
from rag.ingest.readers import ISOLATED, READERS, SKIPPED_QUIETLY, Extracted, ReaderError, reader_for
from rag.ingest.readers.text import CONTROL as _CONTROL, MAX_CONTROL_SHARE, decode as _decode  # noqa: F401

log = logging.getLogger(__name__)

SUFFIXES = tuple(READERS)
"""Suffixes with a reader; other files are listed as skipped ("no reader for .pptx")."""
UNREADABLE = "unreadable"
OUTSIDE = "outside-folder"
UNRESOLVABLE = "unresolvable"
NOT_A_FILE = "not-a-file"
NO_READER = "no-reader"


@dataclass(frozen=True)
class Document:
    """One source file: its path relative to the documents folder, and its exact text."""

    source: str
    text: str
    sha256: str
    encoding: str = "utf-8"
    """How the bytes were decoded: utf-8, utf-16, utf-32, cp1252 or latin-1."""
    note: str = ""
    """What was done to read it, when not plain UTF-8 ("decoded as cp1252: ...")."""
    kind: str = "text"
    """The format it was read as: text, markdown, pdf, html or docx."""
    page_starts: tuple[int, ...] = ()
    """Offset of each page's first character (page 1 at 0); () for formats without pages."""
    boxes: tuple[bytes, ...] = ()
    """PDF: where each character of each page is drawn (rag.ingest.readers.boxes)."""

    @property
    def line_starts(self) -> list[int]:
        return line_starts(self.text)

    def page_of(self, offset: int) -> int | None:
        """1-based page of character `offset`, None for formats without pages."""
        if not self.page_starts:
            return None
        return max(1, bisect_right(self.page_starts, offset))


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class LoadResult:
    documents: list[Document]
    skipped: list[Skipped] = field(default_factory=list)
    fingerprint: dict[str, str] = field(default_factory=dict)
    """sha256 of every candidate file, indexed or skipped: what the staleness check compares."""
    reused: int = 0
    """Files whose extraction came from the extraction cache (rag.ingest.extractions)."""


def line_starts(text: str) -> list[int]:
    """Offsets at which each line of `text` begins (line 1 begins at 0)."""
    starts = [0]
    index = text.find("\n")
    while index != -1:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def line_of(starts: list[int], offset: int) -> int:
    """1-based line number holding character `offset`."""
    return bisect_right(starts, offset)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_paths(folder: Path) -> list[Path]:
    """Every file under `folder` (with a reader or not: those without are reported), in a
    stable order; hidden entries are ignored."""
    folder = Path(folder)
    if not folder.exists():
        raise DocumentError(f"documents folder {folder} does not exist")
    if not folder.is_dir():
        raise DocumentError(f"{folder} is not a folder")
    paths = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.name.lower() not in SKIPPED_QUIETLY and (path.is_file() or path.is_symlink()):
            paths.append(path)
    return sorted(paths, key=lambda p: p.relative_to(folder).as_posix())


def load_folder(folder: Path, max_bytes: int | None = None,
                readers: ReaderSettings | None = None, cache_dir: Path | None = None) -> LoadResult:
    """Load every usable document under `folder`; report the rest as skipped, never stop on one.

    Files larger than `max_bytes` are skipped unread (only hashed, for the staleness check);
    PDF, DOCX and HTML are read in a child process bounded by `readers` (time and memory), or
    taken from the extraction cache in `cache_dir` when their bytes and reader are unchanged
    (entries not used by this load are then removed: call it under the index's build lock).
    """
    from rag.ingest.extractions import ExtractionCache
    from rag.ingest.readers.isolated import IsolatedReader

    folder = Path(folder)
    root = folder.resolve()
    readers = readers or ReaderSettings()
    documents: list[Document] = []
    skipped: list[Skipped] = []
    fingerprint: dict[str, str] = {}
    cache = ExtractionCache(cache_dir, readers) if cache_dir is not None else None
    with IsolatedReader(readers) as isolated:
        for path in document_paths(folder):
            source = path.relative_to(folder).as_posix()
            suffix = path.suffix.lower()
            if reader_for(suffix) is None:
                # Reported, but not part of the fingerprint: a file rag cannot read (a .json, an
                # image) appearing beside the documents changes nothing the index holds.
                skipped.append(Skipped(source, _no_reader(suffix)))
                continue
            resolved, marker, reason = _resolve(path, root)
            if resolved is None:
                fingerprint[source] = marker
                skipped.append(Skipped(source, reason))
                continue
            try:
                size = resolved.stat().st_size
                if max_bytes is not None and size > max_bytes:
                    fingerprint[source] = file_sha256(resolved)
                    skipped.append(Skipped(
                        source,
                        f"is {size / 1e6:.6g} MB, over the limit of {max_bytes / 1e6:g} MB for one "
                        "document (setting max_document_mb, RAG_MAX_DOCUMENT_MB): not indexed",
                    ))
                    continue
                data = resolved.read_bytes()
            except OSError as exc:
                fingerprint[source] = UNREADABLE
                skipped.append(Skipped(source, f"cannot be read ({exc.strerror or exc}): not indexed"))
                continue
            fingerprint[source] = sha256_bytes(data)
            if suffix in ISOLATED and data:
                document, reason = _read_isolated(isolated, cache, source, suffix, data, fingerprint[source])
            else:
                document, reason = read_document(source, data, readers)
            if document is None:
                skipped.append(Skipped(source, reason))
            else:
                documents.append(document)
    for item in skipped:
        log.info("skipped %s: %s", item.source, item.reason)
    if cache is not None:
        cache.prune()
    return LoadResult(documents, skipped, fingerprint, reused=cache.hits if cache is not None else 0)


def _no_reader(suffix: str) -> str:
    known = ", ".join(sorted(set(READERS)))
    what = suffix or "files without a suffix"
    return f"has no reader for {what} (rag reads {known}): not indexed"


def _read_isolated(isolated, cache, source: str, suffix: str, data: bytes,
                   sha256: str) -> tuple[Document | None, str]:
    """The file read in the bounded child, or its extraction from the cache; only successful
    extractions are kept (a file skipped for a timeout is tried again next time)."""
    extracted = cache.get(sha256, suffix) if cache is not None else None
    if extracted is None:
        try:
            extracted = isolated.read(suffix, data)
        except ReaderError as exc:
            return None, str(exc)
        if cache is not None:
            cache.put(sha256, suffix, extracted)
    return _document(source, data, extracted), ""


def read_document(source: str, data: bytes, readers: ReaderSettings | None = None) -> tuple[Document | None, str]:
    """A Document for the file `source` with contents `data` (read in this process), or None and
    the reason it cannot be indexed."""
    reader = reader_for(Path(source).suffix)
    if reader is None:
        return None, _no_reader(Path(source).suffix.lower())
    try:
        extracted = reader(data, readers or ReaderSettings())
    except ReaderError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a parser bug on one file must not stop the others
        log.exception("cannot read %s", source)
        return None, f"could not be read ({exc.__class__.__name__}: {exc}): not indexed"
    return _document(source, data, extracted), ""


def _document(source: str, data: bytes, extracted: Extracted) -> Document:
    return Document(
        source=source, text=extracted.text, sha256=sha256_bytes(data), encoding=extracted.encoding,
        note=extracted.note, kind=extracted.kind, page_starts=extracted.page_starts,
        boxes=extracted.boxes,
    )


def _resolve(path: Path, root: Path) -> tuple[Path | None, str, str]:
    """(the file to read, "", "") or (None, its fingerprint marker, why it is skipped)."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # a dangling link, a loop of links
        return None, UNRESOLVABLE, f"is a link that cannot be followed ({exc.__class__.__name__}): not indexed"
    if not resolved.is_relative_to(root):
        return None, OUTSIDE, "is a link to a file outside the documents folder: not indexed"
    if not resolved.is_file():
        return None, NOT_A_FILE, "is not a regular file: not indexed"
    return resolved, "", ""


def decode_document(source: str, data: bytes) -> tuple[Document | None, str]:
    """A Document for the text file `data`, or None and the reason it cannot be indexed.

    The text is never altered: only the choice of decoding differs (rag.ingest.readers.text).
    """
    from rag.ingest.readers.text import read

    try:
        return _document(source, data, read(data)), ""
    except ReaderError as exc:
        return None, str(exc)


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks (bounded memory for any size)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def folder_fingerprint(folder: Path) -> dict[str, str]:
    """sha256 of every candidate file under `folder`, by source, as `load_folder` records it."""
    folder = Path(folder)
    root = folder.resolve()
    hashes = {}
    for path in document_paths(folder):
        source = path.relative_to(folder).as_posix()
        if reader_for(path.suffix) is None:
            continue  # not a document: see load_folder
        resolved, marker, _ = _resolve(path, root)
        try:
            hashes[source] = marker if resolved is None else file_sha256(resolved)
        except OSError:
            hashes[source] = UNREADABLE
    return hashes


def folder_signature(folder: Path) -> tuple:
    """(path, size, mtime) of every candidate document: cheap, and changes whenever a file is
    added, edited or removed (the watcher and the freshness check compare it before hashing)."""
    signature = []
    for path in document_paths(folder):
        try:
            info = os.stat(path)
            signature.append((str(path), info.st_size, info.st_mtime_ns))
        except OSError:
            signature.append((str(path), -1, -1))
    return tuple(signature)
