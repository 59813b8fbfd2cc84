"""Documents made in the tests with libraries (fpdf2, python-docx, pypdfium2): PDFs of one and two
columns, a scanned page (a page rendered to an image and wrapped as a PDF), an encrypted one, DOCX
with headings, lists, a table and page breaks, and HTML with navigation and scripts."""

from __future__ import annotations

import io

LIGHTHOUSE = ("The lighthouse keeper on Skerry Island counted forty-two ships in the harbour "
              "on the night of the great storm.")
PAGE_TEXT = {
    1: "The first page describes the geography of the northern coast and its small fishing villages.",
    2: "The second page lists the tides, the winds and the currents that sailors must learn.",
    3: LIGHTHOUSE + " Nobody else on the island saw them arrive.",
    4: "The last page thanks the archivists of the maritime museum for their patient help.",
}


def pdf_pages(pages: dict[int, str] = PAGE_TEXT, size: int = 12) -> bytes:
    """One paragraph per page, in Helvetica."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=size)
    for number in sorted(pages):
        pdf.add_page()
        pdf.multi_cell(0, 7, pages[number])
    return bytes(pdf.output())


def two_column_pdf(left: str, right: str, title: str = "Two Columns") -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    pdf.cell(0, 12, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=10)
    top = pdf.get_y()
    pdf.set_xy(10, top)
    pdf.multi_cell(90, 5, left)
    pdf.set_xy(110, top)
    pdf.multi_cell(90, 5, right)
    return bytes(pdf.output())


def interleaved_two_column_pdf(left_lines: list[str], right_lines: list[str]) -> bytes:
    """Two columns written line by line across the page (left, right, left, right...), as many
    PDF producers do: reading order must still be column by column."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    for row, (a, b) in enumerate(zip(left_lines, right_lines)):
        y = 20 + row * 5
        pdf.text(10, y, a)
        pdf.text(110, y, b)
    return bytes(pdf.output())


def scanned_pdf(text: str = LIGHTHOUSE, size: int = 16) -> bytes:
    """A page of `text` rendered to a PNG and wrapped alone in a PDF: no text layer."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    source = pdfium.PdfDocument(pdf_pages({1: text}, size=size))
    image = source[0].render(scale=2).to_pil()
    source.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(buffer.getvalue()), x=0, y=0, w=210)
    return bytes(pdf.output())


def encrypted_pdf(user_password: str | None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-secret", user_password=user_password)
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 7, "The vault combination is written in the ledger kept by the harbour master.")
    return bytes(pdf.output())


def docx_bytes(page_break: bool = True) -> bytes:
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    document.add_heading("Harbour report", 1)
    document.add_paragraph("The harbour has three piers and a customs house built in 1820.")
    document.add_paragraph("ferries to the mainland", style="List Bullet")
    document.add_paragraph("fishing boats", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "Pier", (0, 1): "Length", (1, 0): "North", (1, 1): "120 m"}.items():
        table.cell(r, c).text = value
    paragraph = document.add_paragraph("The customs house closed in 1990.")
    if page_break:
        paragraph.add_run().add_break(WD_BREAK.PAGE)
    paragraph.add_run("On the second page the museum of the harbour opens every day at nine.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


HTML = """<!doctype html><html><head><meta charset="windows-1252"><title>Museum</title>
<style>p { color: red }</style><script>var tracking = "do not index";</script></head>
<body><nav><a href="/">Home</a> <a href="/about">About us</a></nav>
<main><h1>The maritime museum</h1>
<p>The museum shows <b>old</b> <a href="/maps">maps</a> of the
   coast and a café run by volunteers.</p>
<ul><li>Open daily</li><li>Free on Sundays</li></ul></main>
<footer>Copyright footer text</footer></body></html>"""
