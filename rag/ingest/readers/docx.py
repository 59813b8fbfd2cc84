"""Word (.docx) with python-docx: paragraphs, headings, lists and tables in document order, and a
page map where the file has page breaks (explicit ones, and the `lastRenderedPageBreak` marks Word
leaves where it last laid out a page); a file with neither has no page numbers (null).

Paragraphs are separated by a blank line, list items and table rows by a line break, table cells
by a tab. Deleted revisions and field codes are not text. The archive is checked before it is
parsed: one whose parts would unpack to more than `max_unpacked_mb` is refused (a zip bomb).
"""

from __future__ import annotations

import io
import zipfile

from rag.config import ReaderSettings
from rag.ingest.readers.base import Extracted, ReaderError

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read(data: bytes, settings: ReaderSettings) -> Extracted:
    """The text of a .docx file and its page starts."""
    _check_archive(data, settings)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds on a broken file
        raise ReaderError(f"cannot be read as a Word document ({exc.__class__.__name__}: {exc}): "
                          "not indexed") from None
    writer = _Writer()
    styles = _style_names(document)
    for element in document.element.body.iterchildren():
        if element.tag == W + "p":
            writer.paragraph(element, styles)
        elif element.tag == W + "tbl":
            writer.table(element)
    text = "".join(writer.parts)
    if not text.strip():
        raise ReaderError("has no text: nothing to index")
    pages = tuple([0] + sorted(set(p for p in writer.breaks if 0 < p < len(text)))) if writer.breaks else ()
    if len(pages) > settings.max_pages:
        raise ReaderError(f"has {len(pages)} pages, over the limit of {settings.max_pages} "
                          "(setting readers.max_pages): not indexed")
    return Extracted(text=text, kind="docx", page_starts=pages)


def _check_archive(data: bytes, settings: ReaderSettings) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ReaderError(f"is not a Word document (not a zip archive: {exc}): not indexed") from None
    if not any(m.filename == "word/document.xml" for m in members):
        raise ReaderError("is not a Word document (no word/document.xml): not indexed")
    unpacked = sum(m.file_size for m in members)
    if unpacked > settings.max_unpacked_mb * 1e6:
        raise ReaderError(f"would unpack to {unpacked / 1e6:.0f} MB, over the limit of "
                          f"{settings.max_unpacked_mb:g} MB (setting readers.max_unpacked_mb): not indexed")


def _style_names(document) -> dict[str, str]:
    try:
        return {s.style_id: (s.name or "") for s in document.styles}
    except Exception:  # noqa: BLE001 - a damaged styles part: no heading or list detection
        return {}


class _Writer:
    def __init__(self):
        self.parts: list[str] = []
        self.length = 0
        self.breaks: list[int] = []
        self.previous_list = False

    def _add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def _separate(self, separator: str) -> None:
        if self.length:
            self._add(separator)

    def paragraph(self, element, styles: dict[str, str]) -> None:
        style_id = element.find(f"{W}pPr/{W}pStyle")
        style = styles.get(style_id.get(W + "val"), "") if style_id is not None else ""
        is_list = element.find(f"{W}pPr/{W}numPr") is not None or style.lower().startswith("list")
        if element.find(f"{W}pPr/{W}pageBreakBefore") is not None:
            self.breaks.append(self.length + (2 if self.length else 0))
        text, breaks = _runs(element)
        if not text.strip():
            self.breaks.extend(self.length + (2 if self.length else 0) for _ in breaks)
            return
        self._separate("\n" if is_list and self.previous_list else "\n\n")
        self.breaks.extend(self.length + b for b in breaks)
        self._add(text)
        self.previous_list = is_list

    def table(self, element) -> None:
        rows = []
        for row in element.iter(W + "tr"):
            cells = []
            for cell in row.iter(W + "tc"):
                cells.append(" ".join(t for p in cell.iter(W + "p") if (t := _runs(p)[0].strip())))
            if any(cells):
                rows.append("\t".join(cells))
        if rows:
            self._separate("\n\n")
            self._add("\n".join(rows))
            self.previous_list = False


def _runs(paragraph) -> tuple[str, list[int]]:
    """The text of a paragraph element and the offsets in it where a new page starts."""
    out: list[str] = []
    breaks: list[int] = []
    length = 0
    for node in paragraph.iter(W + "t", W + "tab", W + "br", W + "cr", W + "lastRenderedPageBreak"):
        tag = node.tag
        if tag == W + "t":
            piece = node.text or ""
        elif tag == W + "tab":
            piece = "\t"
        elif tag == W + "lastRenderedPageBreak" or node.get(W + "type") == "page":
            if length and not out[-1].endswith("\n"):
                out.append("\n")
                length += 1
            breaks.append(length)
            continue
        else:
            piece = "\n"
        out.append(piece)
        length += len(piece)
    text = "".join(out)
    stripped = len(text) - len(text.lstrip())
    return text.strip(), [max(0, b - stripped) for b in breaks]
