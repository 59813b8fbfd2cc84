"""PDF with pypdfium2 (PDFium, the PDF engine of Chromium): text in reading order, a page map, and
where every character is drawn, for highlighting on the rendered page.

Reading order: PDFium gives characters in content-stream order and breaks them into lines; the
lines of a page are then ordered here. A page whose lines leave a vertical gutter in its middle
(at least 3 lines wholly on each side) is read column by column: lines that cross the gutter
(a title, a full-width figure caption) end one band of columns and start the next. Paragraph
breaks come from vertical gaps larger than ~0.8 line heights. Pages are separated by a blank line.

Stored text is what the page shows: a line-end hyphen stays in the text ("exam-" then "ple" on the
next line) and PDFium's end-of-line hyphen marker (U+0002) is stored as "-"; the text that is
embedded and matched joins such words (rag.ingest.matching). Pages without a text layer are OCR'd
(rag.ingest.readers.ocr) when RapidOCR is installed; pages of glyphs without a Unicode mapping
(garbage from an embedded font) likewise, or skipped, said so in the note.
"""

from __future__ import annotations

import ctypes
import statistics
from dataclasses import dataclass

import numpy as np

from rag.config import ReaderSettings
from rag.ingest.readers import boxes as boxmap
from rag.ingest.readers.base import Extracted, ReaderError

MIN_TEXT_CHARACTERS = 16
"""A page with fewer non-space characters than this has no usable text layer (scanned)."""
MAX_GARBAGE_SHARE = 0.3
"""A page where more of its characters than this have no Unicode mapping is unreadable text."""
PAGE_SEPARATOR = "\n\n"


@dataclass
class _Line:
    chars: list[str]
    rows: list[tuple[float, float, float, float]]
    """(left, top, right, bottom) of each character, as fractions of the page, top-left origin."""

    @property
    def left(self) -> float:
        return min((r[0] for r in self.rows if r[2] > r[0]), default=0.0)

    @property
    def right(self) -> float:
        return max((r[2] for r in self.rows if r[2] > r[0]), default=0.0)

    @property
    def top(self) -> float:
        return min((r[1] for r in self.rows if r[3] > r[1]), default=0.0)

    @property
    def bottom(self) -> float:
        return max((r[3] for r in self.rows if r[3] > r[1]), default=0.0)


def open_document(data: bytes):
    """A pypdfium2 PdfDocument, or ReaderError (a password is needed, or the file is damaged)."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ReaderError("is encrypted and needs a password to open: not indexed") from None
        raise ReaderError(f"cannot be read as a PDF ({exc}): not indexed") from None


def read(data: bytes, settings: ReaderSettings) -> Extracted:
    """The text of a PDF in reading order, its page starts and its character boxes."""
    from rag.ingest.readers import pdf_streams

    pdf_streams.check(data, settings.max_stream_mb)
    document = open_document(data)
    try:
        count = len(document)
        if count == 0:
            raise ReaderError("has no pages: nothing to index")
        if count > settings.max_pages:
            raise ReaderError(
                f"has {count} pages, over the limit of {settings.max_pages} "
                "(setting readers.max_pages): not indexed"
            )
        parts: list[str] = []
        rows: list[np.ndarray] = []
        starts: list[int] = []
        notes: list[str] = []
        form = _init_forms(document)
        ocr = _Ocr(settings)
        length = 0
        for number in range(count):
            page = _flattened(document, number)
            try:
                lines, problem = _page_lines(page)
                if problem:
                    lines, problem = ocr.lines(page, number + 1, problem)
                if problem:
                    notes.append(problem)
                text, page_rows = _compose(lines)
            finally:
                page.close()
            if number > 0:
                text = PAGE_SEPARATOR + text
                page_rows = np.vstack([np.zeros((len(PAGE_SEPARATOR), 4)), page_rows])
            starts.append(length)
            parts.append(text)
            rows.append(page_rows)
            length += len(text)
    finally:
        document.close()
    text = "".join(parts)
    if not text.strip():
        raise ReaderError("has no text" + (f" ({'; '.join(notes[:3])})" if notes else "") + ": nothing to index")
    # Each page's separator belongs to it, so page_starts point at the separator: offsets inside
    # the page's own text map to it, and a passage never starts on a separator (it is whitespace).
    note = _summarise(notes, count) + form
    return Extracted(
        text=text, kind="pdf", page_starts=tuple(starts),
        boxes=tuple(boxmap.encode(r) for r in rows), note=note,
    )


def _init_forms(document) -> str:
    """Let PDFium draw the fields of a form (AcroForm or XFA), also those whose value has no
    appearance yet; before any page is loaded. A note saying so, if it has one."""
    if document.get_formtype() == 0:  # FORMTYPE_NONE
        return ""
    document.init_forms()
    return "; a form: its fields' values are read where they are drawn"


def _flattened(document, number: int):
    """Page `number` (0-based) with its annotations (form fields, stamps, free text) drawn into
    its content, so the text a reader sees on them is read, in place; the page as it is when it
    has none or PDFium cannot flatten it. Sticky notes' contents are not drawn, so not read."""
    import pypdfium2.raw as raw

    page = document[number]
    if raw.FPDFPage_GetAnnotCount(page.raw) <= 0:
        return page
    if raw.FPDFPage_Flatten(page.raw, raw.FLAT_NORMALDISPLAY) != raw.FLATTEN_SUCCESS:
        return page
    page.close()  # flattening changes the page's objects: load it again to read them
    return document[number]


def _summarise(notes: list[str], pages: int) -> str:
    head = f"{pages} page{'s' if pages != 1 else ''}"
    if not notes:
        return head
    shown = "; ".join(notes[:4]) + (f"; and {len(notes) - 4} more pages likewise" if len(notes) > 4 else "")
    return f"{head}; {shown}"


def _page_lines(page) -> tuple[list[_Line], str]:
    """The lines of a page's text layer, and a problem ("no text layer", "garbage") if unusable."""
    import pypdfium2.raw as raw

    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        handle = textpage.raw
        text = textpage.get_text_range(0, count) if count > 0 else ""
        per_char = len(text) == count  # not so with characters outside the BMP
        rect = raw.FS_RECTF()
        get_box = raw.FPDFText_GetLooseCharBox
        get_unicode = raw.FPDFText_GetUnicode
        unmapped = raw.FPDFText_HasUnicodeMapError
        lines: list[_Line] = []
        line = _Line([], [])
        visible = garbage = 0
        last = None  # the box of the line's last drawn character
        for index in range(count):
            char = text[index] if per_char else chr(get_unicode(handle, index) or 0xFFFD)
            if char in "\r\n":
                continue  # lines are found from the geometry below
            if char < " " and char not in "\t\x02" and unmapped(handle, index):
                visible += 1  # a glyph without a Unicode mapping: PDFium gives its raw code
                garbage += 1
                continue
            if char in "\x02\ufffe":  # PDFium's markers of a hyphen at the end of a line
                char = "-"
            elif char < " " and char != "\t":
                continue
            if get_box(handle, index, ctypes.byref(rect)) and rect.right >= rect.left:
                row = (rect.left / width, 1 - rect.top / height, rect.right / width, 1 - rect.bottom / height)
            else:
                row = (0.0, 0.0, 0.0, 0.0)
            drawn = row[3] > row[1]
            if drawn and last is not None and _new_line(last, row, width / height):
                lines.append(line)
                line = _Line([], [])
            if drawn:
                last = row
            if not char.isspace():
                visible += 1
                if char == "\ufffd" or "\ue000" <= char <= "\uf8ff" or unmapped(handle, index):
                    garbage += 1
            if not line.chars and char.isspace():
                continue
            line.chars.append(char)
            line.rows.append(row)
        if line.chars:
            lines.append(line)
    finally:
        textpage.close()
    if visible < MIN_TEXT_CHARACTERS:
        return lines, "no text layer"
    if garbage > MAX_GARBAGE_SHARE * visible:
        return lines, f"garbage text ({garbage} of {visible} characters have no Unicode mapping)"
    return lines, ""


def _new_line(last: tuple, row: tuple, aspect: float) -> bool:
    """Whether a character drawn at `row` starts a new line after one drawn at `last`: it is not
    beside it vertically, or it goes back left, or jumps right by more than 3 line heights."""
    height = max(last[3] - last[1], row[3] - row[1], 1e-6)
    middle = (row[1] + row[3]) / 2
    if not last[1] - 0.2 * height <= middle <= last[3] + 0.2 * height:
        return True
    back, jump = (last[0] - row[0]) * aspect, (row[0] - last[2]) * aspect  # in page-height units
    return back > 0.5 * height or jump > 3 * height


def order_lines(lines: list[_Line]) -> list[list[_Line]]:
    """Lines in reading order, grouped in blocks (a column of a band, or the whole page)."""
    lines = [line for line in lines if "".join(line.chars).strip()]
    gutter = _gutter(lines)
    if gutter is None:
        return [lines] if lines else []
    blocks: list[list[_Line]] = []
    left: list[_Line] = []
    right: list[_Line] = []

    def close_band():
        for column in (left, right):
            if column:
                blocks.append(sorted(column, key=lambda l: l.top))
        left.clear()
        right.clear()

    for line in sorted(lines, key=lambda l: (round(l.top, 3), l.left)):
        if line.right <= gutter:
            left.append(line)
        elif line.left >= gutter:
            right.append(line)
        else:  # crosses the gutter: a full-width line between bands
            close_band()
            blocks.append([line])
    close_band()
    return blocks


def _gutter(lines: list[_Line]) -> float | None:
    """The x (fraction of the width) of a vertical gap between two columns, or None."""
    narrow = [l for l in lines if l.right - l.left < 0.55]
    if len(narrow) < 6:
        return None
    bins = 200
    cover = np.zeros(bins, dtype=np.int32)
    for l in narrow:
        cover[int(l.left * bins) : max(int(l.left * bins) + 1, int(np.ceil(l.right * bins)))] += 1
    middle = range(int(0.3 * bins), int(0.7 * bins))
    best, run, best_run = None, 0, 0
    for i in middle:
        run = run + 1 if cover[i] == 0 else 0
        if run > best_run:
            best_run, best = run, (i - run / 2 + 0.5) / bins
    if best is None or best_run < 2:  # at least 1% of the width
        return None
    on_left = sum(1 for l in narrow if l.right <= best)
    on_right = sum(1 for l in narrow if l.left >= best)
    return best if on_left >= 3 and on_right >= 3 else None


def _compose(lines: list[_Line]) -> tuple[str, np.ndarray]:
    """The page's text and the box row of each of its characters."""
    chars: list[str] = []
    rows: list[tuple[float, float, float, float]] = []
    no_box = (0.0, 0.0, 0.0, 0.0)
    blocks = order_lines(lines)
    heights = [l.bottom - l.top for block in blocks for l in block if l.bottom > l.top]
    line_height = statistics.median(heights) if heights else 0.0
    for b, block in enumerate(blocks):
        if b:
            chars.extend("\n\n")
            rows.extend([no_box, no_box])
        previous = None
        for line in block:
            if previous is not None:
                gap = line.top - previous.bottom
                here, before = line.bottom - line.top, previous.bottom - previous.top
                resized = abs(here - before) > 0.25 * max(here, before)  # a heading's size
                breaker = "\n\n" if gap > 0.8 * line_height or resized else "\n"
                chars.extend(breaker)
                rows.extend([no_box] * len(breaker))
            start = len(chars)
            chars.extend(line.chars)
            rows.extend(line.rows)
            while len(chars) > start and chars[-1].isspace():  # trailing spaces of a line
                chars.pop()
                rows.pop()
            previous = line
    return "".join(chars), np.array(rows, dtype=np.float64).reshape(-1, 4)


class _Ocr:
    """OCR of pages without usable text, within the settings' bounds; loaded on first use."""

    def __init__(self, settings: ReaderSettings):
        self.settings = settings
        self.done = 0
        self._engine = None

    def lines(self, page, number: int, problem: str) -> tuple[list[_Line], str]:
        from rag.ingest.readers import ocr

        if problem == "no text layer" and not _has_images(page):
            return [], ""  # a blank page: nothing to say
        if not self.settings.ocr:
            return [], f"page {number}: {problem}, not indexed (OCR is off: setting readers.ocr)"
        if self.done >= self.settings.max_ocr_pages:
            return [], (f"page {number}: {problem}, not indexed (over readers.max_ocr_pages = "
                        f"{self.settings.max_ocr_pages} OCR'd pages for one document)")
        if self._engine is None:
            self._engine = ocr.engine()
        if self._engine is False or self._engine is None:
            self._engine = False
            return [], f"page {number}: {problem}, not indexed ({ocr.INSTALL_HINT})"
        self.done += 1
        found = ocr.page_lines(self._engine, page, self.settings.ocr_scale)
        if not found:
            return [], f"page {number}: {problem}, and OCR found no text"
        return [_Line(chars, rows) for chars, rows in found], f"page {number}: OCR ({problem})"


def _has_images(page) -> bool:
    import pypdfium2.raw as raw

    return any(True for _ in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=3))


def render_page(data: bytes, number: int, scale: float = 1.5) -> bytes:
    """Page `number` (1-based) of a PDF as PNG bytes."""
    import io

    document = open_document(data)
    try:
        if not 1 <= number <= len(document):
            raise ReaderError(f"has no page {number}")
        if document.get_formtype() != 0:
            document.init_forms()  # draw form fields as the reader read them
        page = document[number - 1]
        bitmap = page.render(scale=scale)
        image = bitmap.to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        page.close()
        return out.getvalue()
    finally:
        document.close()
