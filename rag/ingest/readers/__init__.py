"""One reader per file format, behind one small interface: file bytes in, the text we store and a
map back into the file out (`Extracted`). Readers import nothing from the rest of rag but
`rag.config` and `rag.errors`; `rag.ingest.documents` chooses the reader by file suffix.

Every offset anywhere in rag is an index into `Extracted.text`; `page_starts` says where each page
begins in it and, for PDFs, `boxes` where each character is drawn on its page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rag.config import ReaderSettings


FORMAT = 1
"""Version of what readers store (page maps, character boxes, formats); an index recording
another (or none: built before readers) is stale and rebuilt."""


class ReaderError(Exception):
    """The file cannot be indexed; the message says why (it ends the report line for the file)."""


@dataclass(frozen=True)
class Extracted:
    """What a reader made of a file."""

    text: str
    """The text we index and cite: every passage is a slice of it."""
    kind: str
    """The format: text, markdown, pdf, html or docx."""
    page_starts: tuple[int, ...] = ()
    """Offset in `text` of each page's first character (page 1 at 0); () for formats without pages."""
    boxes: tuple[bytes, ...] = ()
    """PDF only: for each page, where each of its characters is drawn (rag.ingest.readers.boxes)."""
    encoding: str = "utf-8"
    note: str = ""
    """What was done to read it, when worth saying ("decoded as cp1252 ...", "OCR of page 3")."""


Reader = Callable[[bytes, ReaderSettings], Extracted]


def _text(data: bytes, settings: ReaderSettings) -> Extracted:
    from rag.ingest.readers.text import read

    return read(data, settings)


def _markdown(data: bytes, settings: ReaderSettings) -> Extracted:
    from rag.ingest.readers.text import read

    return read(data, settings, kind="markdown")


def _pdf(data: bytes, settings: ReaderSettings) -> Extracted:
    from rag.ingest.readers.pdf import read

    return read(data, settings)


def _html(data: bytes, settings: ReaderSettings) -> Extracted:
    from rag.ingest.readers.html import read

    return read(data, settings)


def _docx(data: bytes, settings: ReaderSettings) -> Extracted:
    from rag.ingest.readers.docx import read

    return read(data, settings)


READERS: dict[str, Reader] = {
    ".txt": _text, ".text": _text, ".md": _markdown, ".markdown": _markdown,
    ".pdf": _pdf, ".html": _html, ".htm": _html, ".xhtml": _html, ".docx": _docx,
}
"""Reader by lower-case file suffix (imported lazily: reading text never imports pypdfium2)."""
ISOLATED = frozenset({".pdf", ".docx", ".html", ".htm", ".xhtml"})
"""Formats read by a parser that hostile input could hang or blow up: read in a child process
bounded in time and memory (rag.ingest.readers.isolated)."""
SKIPPED_QUIETLY = frozenset({".ds_store"})


def reader_for(suffix: str) -> Reader | None:
    return READERS.get(suffix.lower())
