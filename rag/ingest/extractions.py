"""Extractions kept between builds: a rebuild does not read again a PDF, DOCX or HTML file whose
bytes, reader and reader settings are unchanged (reading a 100-page PDF takes 3-9 s here).

An entry is keyed by the file's sha256, its suffix and the reader identity: the readers' format
version, a hash of the readers' own source code, the versions of the parsing libraries (PDFium's
wheel, python-docx, selectolax, RapidOCR) and the reader settings. So a changed reader or setting
never serves an old extraction. Entries live in `<index_dir>/extractions/`, beside the embedding
cache, written whole (temporary file, then rename) under the build lock, and each carries a
sha256 of its contents: an entry that is damaged, truncated, inconsistent or not ours is ignored
and replaced, never trusted. After a load, entries that load did not use are removed, so the
cache holds only the current documents' extractions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from rag.config import ReaderSettings
from rag.ingest.readers.base import FORMAT, Extracted

log = logging.getLogger(__name__)

FOLDER = "extractions"
MAGIC = b"rag-extraction 1\n"
KINDS = frozenset({"pdf", "docx", "html"})
LIBRARIES = ("pypdfium2", "python-docx", "selectolax", "rapidocr-onnxruntime")
_SUFFIX = ".extraction"


def reader_identity(settings: ReaderSettings) -> str:
    """A hash of everything besides the file's bytes that decides what a reader extracts."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    for path in sorted((Path(__file__).parent / "readers").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{name}={version}\n".encode())
    digest.update(json.dumps(asdict(settings), sort_keys=True).encode())
    return digest.hexdigest()


class ExtractionCache:
    """get/put extractions by file hash and suffix; `prune` removes the entries not used since
    the cache was opened. Writing is best effort: a full disk costs speed, never a build."""

    def __init__(self, folder: Path, settings: ReaderSettings):
        self.folder = Path(folder)
        self._identity = reader_identity(settings)
        self._used: set[str] = set()
        self.hits = 0

    def key(self, sha256: str, suffix: str) -> str:
        return hashlib.sha256(f"{self._identity}\n{suffix.lower()}\n{sha256}".encode()).hexdigest()

    def get(self, sha256: str, suffix: str) -> Extracted | None:
        key = self.key(sha256, suffix)
        self._used.add(key)
        try:
            data = (self.folder / (key + _SUFFIX)).read_bytes()
        except OSError:
            return None
        extracted = decode(data, key)
        if extracted is None:
            log.warning("ignoring a damaged extraction cache entry %s", key)
        else:
            self.hits += 1
        return extracted

    def put(self, sha256: str, suffix: str, extracted: Extracted) -> None:
        key = self.key(sha256, suffix)
        self._used.add(key)
        target = self.folder / (key + _SUFFIX)
        temporary = self.folder / f".{key}.{os.getpid()}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(encode(extracted, key))
            os.replace(temporary, target)
        except OSError as exc:
            log.warning("could not write the extraction cache entry %s: %s", key, exc)
            temporary.unlink(missing_ok=True)

    def prune(self) -> None:
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return
        for entry in entries:
            name = entry.name
            stale = name.endswith(_SUFFIX) and name[: -len(_SUFFIX)] not in self._used
            if stale or (name.startswith(".") and name.endswith(".tmp")):
                entry.unlink(missing_ok=True)


def encode(extracted: Extracted, key: str) -> bytes:
    header = json.dumps({
        "key": key, "text": extracted.text, "kind": extracted.kind,
        "page_starts": list(extracted.page_starts), "boxes": [len(b) for b in extracted.boxes],
        "encoding": extracted.encoding, "note": extracted.note,
    }).encode("utf-8")
    payload = struct.pack("<Q", len(header)) + header + b"".join(extracted.boxes)
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def decode(data: bytes, key: str) -> Extracted | None:
    """The entry's Extracted, or None when it is not a whole, consistent entry for `key`."""
    try:
        if not data.startswith(MAGIC):
            return None
        digest, payload = data[len(MAGIC):len(MAGIC) + 64], data[len(MAGIC) + 65:]
        if hashlib.sha256(payload).hexdigest().encode() != digest:
            return None
        (size,) = struct.unpack_from("<Q", payload)
        header = json.loads(payload[8:8 + size].decode("utf-8"))
        text, starts, lengths = header["text"], header["page_starts"], header["boxes"]
        boxes, position = [], 8 + size
        for length in lengths:
            boxes.append(payload[position:position + length])
            position += length
        consistent = (
            header["key"] == key and isinstance(text, str) and header["kind"] in KINDS
            and isinstance(header["encoding"], str) and isinstance(header["note"], str)
            and all(isinstance(s, int) for s in starts) and starts == sorted(starts)
            and (not starts or (starts[0] == 0 and starts[-1] <= len(text)))
            and position == len(payload)
            and (not boxes or (len(boxes) == len(starts) and sum(lengths) == 8 * len(text)))
        )
        if not consistent:
            return None
        return Extracted(text=text, kind=header["kind"], page_starts=tuple(starts), boxes=tuple(boxes),
                         encoding=header["encoding"], note=header["note"])
    except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError):
        return None
