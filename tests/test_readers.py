"""The format readers (rag/ingest/readers/): exact stored text, page maps, reading order,
hyphenation, encryption, OCR, and every file reported; no model needed."""

from __future__ import annotations

import pytest

from rag.config import ReaderSettings
from rag.ingest.documents import load_folder
from rag.ingest.matching import match_text
from rag.ingest.readers import ReaderError, boxes
from rag.ingest.readers import docx as docx_reader
from rag.ingest.readers import html as html_reader
from rag.ingest.readers import pdf as pdf_reader
from tests import documents_kit as kit

SETTINGS = ReaderSettings()


def test_pdf_text_pages_and_boxes_map_back_to_each_page():
    extracted = pdf_reader.read(kit.pdf_pages(), SETTINGS)
    assert len(extracted.page_starts) == 4 and extracted.page_starts[0] == 0
    for number, text in kit.PAGE_TEXT.items():
        start = extracted.text.index(text.split()[0] + " " + text.split()[1])
        assert extracted.page_starts[number - 1] <= start
        assert number == 4 or start < extracted.page_starts[number]
    # the words of page 3 are where they are drawn: in the top part of page 3
    page3 = boxes.decode(extracted.boxes[2])
    offset = extracted.text.index("lighthouse") - extracted.page_starts[2]
    rects = boxes.span_rects(page3, offset, offset + len("lighthouse"))
    assert len(rects) == 1
    left, top, right, bottom = rects[0]
    assert 0 < left < right < 1 and 0 < top < bottom < 0.2
    assert len(page3) == extracted.page_starts[3] - extracted.page_starts[2]  # one row a character


def test_two_columns_are_read_column_by_column():
    left = "Apples grow in the left column orchard. " * 12 + "Left ends here."
    right = "Rivers flow in the right column valley. " * 12 + "Right ends here."
    text = pdf_reader.read(kit.two_column_pdf(left, right), SETTINGS).text
    assert text.index("Left ends here.") < text.index("Rivers flow")
    assert "apples" not in text[text.index("Rivers flow"):].lower()
    # written line by line across the page, still read column by column
    lines_left = [f"left line {i} about apples" for i in range(12)]
    lines_right = [f"right line {i} about rivers" for i in range(12)]
    text = pdf_reader.read(kit.interleaved_two_column_pdf(lines_left, lines_right), SETTINGS).text
    assert text.index("left line 11") < text.index("right line 0")
    assert [line for line in text.splitlines() if line.strip()] == lines_left + lines_right


def test_line_end_hyphens_stay_in_the_text_and_are_joined_for_matching():
    words = "extraordinarily " * 30 + "counterrevolutionary incomprehensibility"
    text = pdf_reader.read(kit.pdf_pages({1: words}, size=14), SETTINGS).text
    assert "\x02" not in text and "\ufffe" not in text
    assert match_text("exam-\nple and well-known\n", "pdf") == "example and well-known\n"
    assert match_text("exam-\nple", "text") == "exam-\nple"  # plain text is the author's
    assert match_text("soft\u00adhyphen", "html") == "softhyphen"


def test_encrypted_pdf_needs_its_password_but_owner_only_is_read():
    with pytest.raises(ReaderError, match="encrypted and needs a password"):
        pdf_reader.read(kit.encrypted_pdf(user_password="user-secret"), SETTINGS)
    text = pdf_reader.read(kit.encrypted_pdf(user_password=None), SETTINGS).text
    assert "vault combination" in text


def test_scanned_page_without_ocr_is_reported_with_how_to_enable_it():
    with pytest.raises(ReaderError, match="no text layer.*OCR is off"):
        pdf_reader.read(kit.scanned_pdf(), ReaderSettings(ocr=False))


def test_scanned_page_is_ocred_into_text_with_boxes():
    pytest.importorskip("rapidocr_onnxruntime")
    extracted = pdf_reader.read(kit.scanned_pdf(), SETTINGS)
    assert "OCR" in extracted.note
    assert "lighthouse keeper" in extracted.text.lower()
    start = extracted.text.lower().index("lighthouse")
    rects = boxes.span_rects(boxes.decode(extracted.boxes[0]), start, start + 10)
    assert rects and rects[0][1] < 0.2


def test_html_main_text_without_navigation_scripts_or_styles():
    extracted = html_reader.read(kit.HTML.encode("cp1252"), SETTINGS)
    assert extracted.text == (
        "The maritime museum\n\nThe museum shows old maps of the coast and a café run by "
        "volunteers.\n\nOpen daily\nFree on Sundays"
    )
    assert extracted.encoding == "cp1252"


def test_docx_paragraphs_headings_lists_tables_and_page_breaks():
    extracted = docx_reader.read(kit.docx_bytes(), SETTINGS)
    text = extracted.text
    assert text.startswith("Harbour report\n\nThe harbour has three piers")
    assert "ferries to the mainland\nfishing boats" in text
    assert "Pier\tLength\nNorth\t120 m" in text
    assert len(extracted.page_starts) == 2
    assert text[extracted.page_starts[1]:].startswith("On the second page")
    assert docx_reader.read(kit.docx_bytes(page_break=False), SETTINGS).page_starts == ()


def test_a_mixed_folder_reports_every_file_and_slices_back_exactly(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "report.pdf").write_bytes(kit.pdf_pages())
    (docs / "page.html").write_bytes(kit.HTML.encode("cp1252"))
    (docs / "notes.docx").write_bytes(kit.docx_bytes())
    (docs / "readme.md").write_text("# Notes\n\nA markdown file.\n", encoding="utf-8")
    (docs / "slides.pptx").write_bytes(b"PK\x03\x04 not really")
    (docs / "locked.pdf").write_bytes(kit.encrypted_pdf(user_password="x"))
    (docs / "broken.docx").write_bytes(b"PK\x03\x04 truncated zip")
    loaded = load_folder(docs)
    kinds = {d.source: d.kind for d in loaded.documents}
    assert kinds == {"report.pdf": "pdf", "page.html": "html", "notes.docx": "docx", "readme.md": "markdown"}
    reasons = {s.source: s.reason for s in loaded.skipped}
    assert set(reasons) == {"slides.pptx", "locked.pdf", "broken.docx"}
    assert reasons["slides.pptx"].startswith("has no reader for .pptx")
    assert "password" in reasons["locked.pdf"]
    assert "not a Word document" in reasons["broken.docx"]
    # files without a reader are reported but do not make the index stale
    assert set(loaded.fingerprint) == set(kinds) | {"locked.pdf", "broken.docx"}
