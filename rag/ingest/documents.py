"""Load the documents of a folder exactly as they are: text is never altered.

Offsets everywhere in the project are indexes into `Document.text`, the file's decoded text with
no newline translation, so `text[start:end]` is always the cited slice. A file is decoded as UTF-8;
a file with a UTF-16 or UTF-32 byte-order mark by that mark (the mark itself is not part of the
text); a file that is not valid UTF-8 as cp1252, or Latin-1 when cp1252 cannot map it (then one
character is one byte, so offsets are byte offsets too). Binary files are skipped, never guessed at.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import DocumentError

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
UNREADABLE = "unreadable"
OUTSIDE = "outside-folder"
UNRESOLVABLE = "unresolvable"
NOT_A_FILE = "not-a-file"

_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
"""Control characters that are not whitespace: text has next to none, binary data many."""
MAX_CONTROL_SHARE = 0.05
"""A decoded file with more control characters than this share is taken to be binary."""


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


def load_folder(folder: Path, max_bytes: int | None = None) -> LoadResult:
    """Load every usable document under `folder`; report the rest as skipped, never stop on one.

    Files larger than `max_bytes` are skipped unread (only hashed, for the staleness check).
    """
    folder = Path(folder)
    root = folder.resolve()
    documents: list[Document] = []
    skipped: list[Skipped] = []
    fingerprint: dict[str, str] = {}
    for path in document_paths(folder):
        source = path.relative_to(folder).as_posix()
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
        document, reason = decode_document(source, data)
        if document is None:
            skipped.append(Skipped(source, reason))
        else:
            documents.append(document)
    for item in skipped:
        log.info("skipped %s: %s", item.source, item.reason)
    return LoadResult(documents, skipped, fingerprint)


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
    """A Document for `data`, or None and the reason it cannot be indexed.

    The text is never altered: only the choice of decoding differs (see the module docstring).
    """
    if not data:
        return None, "is empty: nothing to index"
    text, encoding, note = _decode(data)
    if text is None:
        return None, note
    controls = len(_CONTROL.findall(text))
    if controls > MAX_CONTROL_SHARE * len(text):
        return None, (
            f"looks binary ({controls} of {len(text)} characters are control characters "
            f"when decoded as {encoding}): not indexed"
        )
    if not text.replace("\ufeff", "").strip():
        return None, "contains only whitespace: nothing to index"
    document = Document(source=source, text=text, sha256=sha256_bytes(data), encoding=encoding, note=note)
    return document, ""


def _decode(data: bytes) -> tuple[str | None, str, str]:
    """(text, encoding, note); text None when the bytes are not text (note says why)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding, f"decoded as {encoding.upper()} (byte-order mark)"
            except UnicodeDecodeError as exc:
                return None, encoding, (
                    f"starts with a {encoding.upper()} byte-order mark but is not valid "
                    f"{encoding.upper()} (byte {exc.start}): not indexed"
                )
    nul = data.find(b"\x00")
    if nul != -1:
        return None, "", (
            f"contains NUL bytes (the first at byte {nul}): binary, or UTF-16 without a "
            "byte-order mark; not indexed"
        )
    try:
        return data.decode("utf-8"), "utf-8", ""
    except UnicodeDecodeError as exc:
        bad = exc.start
    for encoding in ("cp1252", "latin-1"):  # latin-1 decodes any byte: the last resort
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, encoding, (
            f"is not valid UTF-8 (byte {bad}): decoded as {encoding}, one character per byte"
        )
    raise AssertionError("latin-1 decodes every byte")


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
