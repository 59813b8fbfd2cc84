"""One reader per file format, behind one small interface: file bytes in, the text we store and a
map back into the file out (`Extracted`). Readers import nothing from the rest of rag but
`rag.config` and `rag.errors`; `rag.ingest.documents` chooses the reader by file suffix.

Every offset anywhere in rag is an index into `Extracted.text`; `page_starts` says where each page
begins in it and, for PDFs, `boxes` where each character is drawn on its page.
"""

from __future__ import annotations

from typing import Callable

from rag.config import ReaderSettings
from rag.ingest.readers.base import FORMAT, Extracted, ReaderError

__all__ = ["FORMAT", "Extracted", "ReaderError", "Reader", "READERS", "reader_for"]


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
