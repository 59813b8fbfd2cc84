"""Hostile PDFs: a compressed-stream bomb, forms, annotations and garbage glyphs from an embedded
font. Each is indexed or skipped with one reason naming it, within the reader's bounds (streams
inflated at most readers.max_stream_mb, a child process with a memory and time limit), and the
other files are indexed. Fixtures are made here: raw PDF bytes (tests/hostile_pdfs.py) and fpdf2."""

from __future__ import annotations

import time

import pytest

from rag.config import ReaderSettings
from rag.ingest.documents import load_folder
from rag.ingest.readers import ReaderError, boxes as boxmap, pdf_streams
from rag.ingest.readers.isolated import IsolatedReader
from tests import documents_kit as kit
from tests import hostile_pdfs as hostile

TIDES = "The tide tables for the northern harbour were printed with a broken font last winter."


def annotated_pdf() -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.multi_cell(0, 7, "The harbour master signs every permit before the boats leave at dawn.")
    document.text_annotation(20, 40, "A sticky note that is not drawn on the page")
    with document.highlight("checked by the clerk"):
        document.text(20, 60, "Highlighted line of the ledger.")
    document.ink_annotation([(40, 100), (80, 110), (120, 100)], text="a scribble")
    document.free_text_annotation("A free-text remark", x=20, y=80, w=120, h=10)
    return bytes(document.output())


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory):
    docs = tmp_path_factory.mktemp("hostile-pdfs")
    (docs / "good.pdf").write_bytes(kit.pdf_pages())
    (docs / "good.txt").write_text("A plain file that must still be indexed.\n", encoding="utf-8")
    (docs / "bomb.pdf").write_bytes(hostile.stream_bomb(300))
    (docs / "form.pdf").write_bytes(hostile.form_pdf())
    (docs / "annotated.pdf").write_bytes(annotated_pdf())
    (docs / "garbage.pdf").write_bytes(hostile.garbage_font_pdf(TIDES))
    (docs / "unmapped.pdf").write_bytes(hostile.garbage_font_pdf(TIDES, unmapped=True))
    started = time.monotonic()
    loaded = load_folder(docs, readers=ReaderSettings(ocr=False))
    return docs, loaded, time.monotonic() - started


def test_each_hostile_pdf_is_indexed_or_skipped_with_its_reason(hostile_folder):
    docs, loaded, elapsed = hostile_folder
    assert len((docs / "bomb.pdf").read_bytes()) < 4000  # 300 MB once inflated
    assert {d.source for d in loaded.documents} == {"good.pdf", "good.txt", "form.pdf", "annotated.pdf"}
    reasons = {s.source: s.reason for s in loaded.skipped}
    assert set(reasons) == {"bomb.pdf", "garbage.pdf", "unmapped.pdf"}
    assert "compressed stream that inflates to over 256 MB" in reasons["bomb.pdf"]
    for name in ("garbage.pdf", "unmapped.pdf"):
        assert "garbage text (" in reasons[name] and "have no Unicode mapping" in reasons[name], reasons[name]
        assert "OCR is off: setting readers.ocr" in reasons[name]
    assert all(reason.endswith(("not indexed", "nothing to index")) for reason in reasons.values())
    assert elapsed < 120  # bounded (generous: a shared, loaded machine); not a speed check


def test_form_fields_are_read_where_they_are_drawn(hostile_folder):
    _, loaded, _ = hostile_folder
    form = next(d for d in loaded.documents if d.source == "form.pdf")
    assert "a form: its fields' values are read" in form.note
    assert "Application for a mooring permit" in form.text
    # The value drawn by its appearance stream and the one PDFium draws from /V alone.
    for value, (bottom, top) in (("Ada Lovelace", (690, 706)), ("Northern Star", (658, 674))):
        at = form.text.index(value)
        rows = boxmap.decode(form.boxes[0])[at:at + len(value)]
        drawn = rows[rows[:, 2] > rows[:, 0]]
        assert len(drawn) >= len(value.replace(" ", ""))
        assert (drawn[:, 0] >= 150 / 612 - 0.01).all() and (drawn[:, 2] <= 400 / 612 + 0.01).all()
        assert (drawn[:, 1] >= 1 - top / 792 - 0.01).all() and (drawn[:, 3] <= 1 - bottom / 792 + 0.01).all()


def test_annotations_leave_the_page_text_as_drawn(hostile_folder):
    _, loaded, _ = hostile_folder
    annotated = next(d for d in loaded.documents if d.source == "annotated.pdf")
    assert annotated.note == "1 page"
    assert "The harbour master signs every permit" in annotated.text
    assert "Highlighted line of the ledger." in annotated.text
    assert "sticky note" not in annotated.text  # a comment's contents are not on the page


def test_a_stream_check_passes_ordinary_files_and_stops_early():
    pdf_streams.check(kit.pdf_pages(), 1)  # fpdf2 compresses its page streams: measured, small
    bomb = hostile.stream_bomb(300)
    assert pdf_streams.inflated_size(bomb[bomb.index(b"stream\n") + 7:], 2, 10**9) > 300_000_000
    started = time.monotonic()
    with pytest.raises(ReaderError, match="over 50 MB"):
        pdf_streams.check(bomb, 50)
    assert time.monotonic() - started < 30  # it stops at the limit, not at 300 MB


def test_a_bomb_allowed_past_the_stream_check_is_stopped_by_the_memory_limit():
    # With the stream check raised out of the way, PDFium inflates 1.5 GB and holds it: over a
    # 1 GB address-space limit the child fails or dies, the file gets a reason, the next is read.
    settings = ReaderSettings(max_stream_mb=4000, memory_mb=1024)
    with IsolatedReader(settings) as reader:
        with pytest.raises(ReaderError, match="not indexed"):
            reader.read(".pdf", hostile.stream_bomb(1500))
        assert "lighthouse keeper" in reader.read(".pdf", kit.pdf_pages()).text


@pytest.mark.slow
def test_a_page_of_garbage_glyphs_is_read_by_ocr():
    settings = ReaderSettings(ocr_scale=2.0)
    with IsolatedReader(settings) as reader:
        extracted = reader.read(".pdf", hostile.garbage_font_pdf(TIDES))
    assert "page 1: OCR (garbage text" in extracted.note
    words = extracted.text.lower()
    assert sum(word in words for word in ("tide", "tables", "northern", "harbour", "broken", "font")) >= 4


def test_an_index_recorded_before_a_reader_bound_existed_is_not_stale_for_it():
    from rag.config import IndexSettings
    from rag.store.manifest import READERS_FORMAT, Manifest

    settings = IndexSettings(backend="torch")
    recorded = settings.to_dict()
    del recorded["readers"]["max_stream_mb"]  # as written before the bound was added
    old = Manifest({"model": {"name": "all-MiniLM-L6-v2"}, "docs_dir": None,
                    "readers_format": READERS_FORMAT, "settings": recorded})
    assert old.stale_reasons(settings) == []
    changed = IndexSettings(backend="torch", readers=ReaderSettings(max_stream_mb=100))
    assert any("readers changed" in r for r in old.stale_reasons(changed))
