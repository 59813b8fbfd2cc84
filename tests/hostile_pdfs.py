"""Hostile PDFs written byte by byte (fpdf2 cannot make these): a compressed-stream bomb, a form
with AcroForm fields. Each object is numbered from 1 in the order given; the xref table is exact."""

from __future__ import annotations

import zlib

FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF of `objects` (object i+1 is objects[i]) with catalog `root`."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"", filters: int = 0) -> bytes:
    """A stream object's body; `data` is already compressed `filters` times with Flate."""
    names = b" ".join([b"/FlateDecode"] * filters)
    filter_entry = b" /Filter [%s]" % names if filters else b""
    return b"<< /Length %d%s%s >>\nstream\n" % (len(data), filter_entry, extra) + data + b"\nendstream"


def deflated_spaces(megabytes: int) -> bytes:
    """`megabytes` MB of spaces, deflated (about 1 KB per MB), made without holding them."""
    packer = zlib.compressobj(9)
    block = b" " * 1_000_000
    return b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()


def one_page(content: bytes, filters: int = 0, page_extra: bytes = b"", more: list[bytes] = (),
             catalog_extra: bytes = b"") -> bytes:
    """A one-page PDF whose content stream is `content`; `more` objects follow as 5, 6, ..."""
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R%s >>" % catalog_extra,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 %d 0 R >> >>%s >>" % (5 + len(more), page_extra),
        stream(content, filters=filters),
        *more,
        FONT,
    ])


def text_content(*lines: str) -> bytes:
    body = b"".join(b"(%s) Tj 0 -16 Td " % line.encode("latin-1") for line in lines)
    return b"BT /F1 12 Tf 72 720 Td " + body + b"ET\n"


def stream_bomb(inflated_mb: int) -> bytes:
    """One page whose content stream (Flate twice) inflates to `inflated_mb` MB of spaces after a
    line of text: a file of a few KB."""
    inner = zlib.compressobj(9)
    first = inner.compress(text_content("A page whose content stream is a bomb."))
    block = b" " * 1_000_000
    first += b"".join(inner.compress(block) for _ in range(inflated_mb)) + inner.flush()
    return one_page(zlib.compress(first, 9), filters=2)


def form_pdf() -> bytes:
    """A page of text with an AcroForm: a filled text field drawn by its appearance stream, and
    one whose value is only in /V (NeedAppearances: the viewer is to draw it)."""
    appearance = b"/Tx BMC BT /F1 12 Tf 2 5 Td (Ada Lovelace) Tj ET EMC"
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 7 0 R] /NeedAppearances true "
        b"/DA (/F1 12 Tf 0 g) /DR << /Font << /F1 8 0 R >> >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [5 0 R 7 0 R] "
        b"/Resources << /Font << /F1 8 0 R >> >> >>",
        stream(text_content("Application for a mooring permit in the harbour of Skerry Island.",
                            "Applicant:", "", "Boat name:")),
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (applicant) /V (Ada Lovelace) /F 4 /P 3 0 R "
        b"/Rect [150 690 400 706] /DA (/F1 12 Tf 0 g) /AP << /N 6 0 R >> >>",
        stream(appearance, b" /Type /XObject /Subtype /Form /BBox [0 0 250 16] "
                           b"/Resources << /Font << /F1 8 0 R >> >>"),
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (boat) /V (Northern Star) /F 4 /P 3 0 R "
        b"/Rect [150 658 400 674] /DA (/F1 12 Tf 0 g) >>",
        FONT,
    ])


def garbage_font_pdf(text: str, unmapped: bool = False) -> bytes:
    """`text` in an embedded TrueType font (DejaVu Sans, shipped with matplotlib) whose ToUnicode
    map sends every glyph to the Private Use Area, as broken producers do; with `unmapped` the
    map is taken away instead. The page looks right; its text layer is garbage."""
    import importlib.util
    import re
    from pathlib import Path

    from fpdf import FPDF

    font = Path(importlib.util.find_spec("matplotlib").origin).parent / "mpl-data/fonts/ttf/DejaVuSans.ttf"
    document = FPDF()
    document.set_compression(False)  # the map is edited in place, byte for byte
    document.add_font("dejavu", fname=str(font))
    document.set_font("dejavu", size=16)
    document.add_page()
    document.multi_cell(0, 9, text)
    data = bytes(document.output())
    if unmapped:
        reference = re.search(rb"/ToUnicode \d+ 0 R", data)
        assert reference, "fpdf2 wrote no ToUnicode map"
        return data[:reference.start()] + b" " * len(reference.group()) + data[reference.end():]
    start, end = data.index(b"beginbfchar"), data.index(b"endbfchar")
    table = re.sub(rb"(<[0-9A-F]{4}> )<00([0-9A-F]{2})>",
                   lambda m: m.group(0) if m.group(2) in (b"00", b"20") else m.group(1) + b"<E0" + m.group(2) + b">",
                   data[start:end])
    assert len(table) == end - start
    return data[:start] + table + data[end:]
