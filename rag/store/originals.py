"""The indexed original of a paged document, for showing its pages: the file in the documents
folder, read only when it is still the very file that was indexed (same sha256), and only for a
source the index holds, so nothing else on disk can be reached this way.

`page_marks` turns a passage and its highlights into rectangles on each page they cover (from
the character boxes the PDF reader stored), and `page_png` renders a page with pypdfium2.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rag.ingest.readers import boxes as boxmap
from rag.store.chunkstore import ChunkStore

Rect = tuple[float, float, float, float]
RENDER_SCALE = 1.5
"""Pages are rendered at 72 * 1.5 = 108 dpi: sharp on a phone, ~100-300 KB a page."""


@dataclass(frozen=True)
class PageMarks:
    """One page of a passage: its number, and where the passage and its highlights are drawn
    (rectangles as fractions of the page, top-left origin)."""

    page: int
    passage: tuple[Rect, ...]
    highlights: tuple[Rect, ...]


def original(chunks: ChunkStore, docs_dir: Path | None, source: str) -> bytes | None:
    """The bytes of the indexed file `source`, or None when it changed, moved or cannot be read."""
    if docs_dir is None or not chunks.has_source(source):
        return None
    root = Path(docs_dir).resolve()
    try:
        path = (root / source).resolve(strict=True)
        if not path.is_relative_to(root) or not path.is_file():
            return None
        data = path.read_bytes()
    except (OSError, RuntimeError):
        return None
    indexed = next(d.sha256 for d in chunks.documents if d.source == source)
    return data if hashlib.sha256(data).hexdigest() == indexed else None


def page_marks(chunks: ChunkStore, source: str, start: int, end: int,
               highlights: Sequence[tuple[int, int]] = ()) -> list[PageMarks]:
    """The pages [start, end) covers, each with the rectangles of the passage and highlights;
    [] for a document without character boxes (not a PDF)."""
    starts = chunks.page_starts([source])[source]
    if not starts or chunks.kind(source) != "pdf":
        return []
    first, last = boxmap.page_of(starts, start), boxmap.page_of(starts, max(start, end - 1))
    marks = []
    for page in range(first, last + 1):
        data = chunks.page_boxes(source, page)
        if data is None:
            continue
        rows = boxmap.decode(data)
        base = starts[page - 1]

        def rects(a: int, b: int) -> tuple[Rect, ...]:
            return tuple(boxmap.span_rects(rows, a - base, b - base))

        marks.append(PageMarks(page, rects(start, end), tuple(r for a, b in highlights for r in rects(a, b))))
    return marks


def page_png(data: bytes, page: int, scale: float = RENDER_SCALE) -> bytes:
    """Page `page` (1-based) of the PDF `data`, rendered as PNG."""
    from rag.ingest.readers.pdf import render_page

    return render_page(data, page, scale)
