"""Load the documents of a folder exactly as they are: text is never altered.

Offsets everywhere in the project are indexes into `Document.text`, the file's bytes decoded as
UTF-8 with no newline translation, so `text[start:end]` is always the cited slice.
"""

from __future__ import annotations

import hashlib
import logging
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import DocumentError

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Document:
    """One source file: its path relative to the documents folder, and its exact text."""

    source: str
    text: str
    sha256: str

    @property
    def line_starts(self) -> list[int]:
        return line_starts(self.text)


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
    """Every .txt and .md file under `folder`, in a stable order; hidden entries are ignored."""
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
        if path.suffix.lower() in SUFFIXES and (path.is_file() or path.is_symlink()):
            paths.append(path)
    return sorted(paths, key=lambda p: p.relative_to(folder).as_posix())


def load_folder(folder: Path) -> LoadResult:
    """Load every usable document under `folder`; report the rest as skipped, never stop on one."""
    folder = Path(folder)
    root = folder.resolve()
    documents: list[Document] = []
    skipped: list[Skipped] = []
    fingerprint: dict[str, str] = {}
    for path in document_paths(folder):
        source = path.relative_to(folder).as_posix()
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            skipped.append(Skipped(source, f"cannot be resolved ({exc.__class__.__name__})"))
            continue
        if not resolved.is_relative_to(root):
            skipped.append(Skipped(source, "is a link to a file outside the documents folder"))
            continue
        try:
            data = resolved.read_bytes()
        except OSError as exc:
            fingerprint[source] = UNREADABLE
            skipped.append(Skipped(source, f"cannot be read ({exc.strerror or exc})"))
            continue
        fingerprint[source] = sha256_bytes(data)
        document, reason = decode_document(source, data)
        if document is None:
            skipped.append(Skipped(source, reason))
        else:
            documents.append(document)
    for item in skipped:
        log.warning("skipped %s: %s", item.source, item.reason)
    return LoadResult(documents, skipped, fingerprint)


def decode_document(source: str, data: bytes) -> tuple[Document | None, str]:
    """A Document for `data`, or None and the reason it cannot be indexed."""
    if b"\x00" in data:
        return None, "contains NUL bytes (binary, or UTF-16/32 text): not indexed"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"is not valid UTF-8 (byte {exc.start}): not indexed"
    if not text.strip():
        return None, "is empty or only whitespace: nothing to index"
    return Document(source=source, text=text, sha256=sha256_bytes(data)), ""


def folder_fingerprint(folder: Path) -> dict[str, str]:
    """sha256 of every candidate file under `folder`, by source, as `load_folder` records it."""
    folder = Path(folder)
    hashes = {}
    for path in document_paths(folder):
        source = path.relative_to(folder).as_posix()
        try:
            hashes[source] = sha256_bytes(path.read_bytes())
        except OSError:
            hashes[source] = UNREADABLE
    return hashes
