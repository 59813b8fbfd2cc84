"""The records every reader shares: what a reader returns, and the error saying why a file is skipped."""

from __future__ import annotations

from dataclasses import dataclass

FORMAT = 2
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
