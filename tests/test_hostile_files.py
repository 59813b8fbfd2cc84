"""Hostile files never stop a build: each is skipped with one reason naming it, within the
reader's bounds (a child process with a memory limit and a per-file timeout), and the other
files are indexed."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from rag.config import ReaderSettings
from rag.ingest.documents import load_folder
from rag.ingest.readers import ReaderError
from rag.ingest.readers.isolated import IsolatedReader
from tests import documents_kit as kit


def broken_docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document><unclosed")
    return buffer.getvalue()


def zip_bomb_docx(megabytes: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<" + b"a" * (megabytes * 1_000_000))
    return buffer.getvalue()


def test_hostile_files_are_skipped_with_reasons_and_the_rest_indexed(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.pdf").write_bytes(kit.pdf_pages())
    (docs / "good.txt").write_text("A plain file that must still be indexed.\n", encoding="utf-8")
    (docs / "broken.docx").write_bytes(broken_docx())
    (docs / "bomb.docx").write_bytes(zip_bomb_docx(12))
    (docs / "truncated.pdf").write_bytes(kit.pdf_pages()[:300])
    (docs / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    (docs / "long.pdf").write_bytes(kit.pdf_pages({n: f"Page {n} of a long file." for n in range(1, 13)}))
    (docs / "empty.html").write_bytes(b"<html><body><nav>only a menu</nav><script>x()</script></body></html>")
    started = time.monotonic()
    loaded = load_folder(docs, readers=ReaderSettings(max_pages=10, max_unpacked_mb=10))
    elapsed = time.monotonic() - started
    assert {d.source for d in loaded.documents} == {"good.pdf", "good.txt"}
    reasons = {s.source: s.reason for s in loaded.skipped}
    assert "cannot be read as a Word document" in reasons["broken.docx"]
    assert "would unpack to 12 MB, over the limit of 10 MB" in reasons["bomb.docx"]
    assert "cannot be read as a PDF" in reasons["truncated.pdf"]
    assert "cannot be read as a PDF" in reasons["garbage.pdf"]
    assert "has 12 pages, over the limit of 10" in reasons["long.pdf"]
    assert "no text outside navigation" in reasons["empty.html"]
    assert all(reason.endswith(("not indexed", "nothing to index")) for reason in reasons.values())
    assert elapsed < 120  # bounded (generous: a shared, loaded machine); not a speed check


def test_a_file_over_the_time_limit_kills_the_reader_and_the_next_file_gets_a_new_one():
    data = kit.pdf_pages()
    with IsolatedReader(ReaderSettings(timeout_s=0.01)) as reader:
        with pytest.raises(ReaderError, match="took longer than 0.01 s"):
            reader.read(".pdf", data)
        assert reader._process is None  # killed
        reader.settings = ReaderSettings()
        assert "lighthouse keeper" in reader.read(".pdf", data).text


def many_paragraphs_docx(count: int) -> bytes:
    """A valid DOCX of `count` tiny paragraphs: small on disk, a huge tree once parsed."""
    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    namespace = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = b"<w:p><w:r><w:t>x</w:t></w:r></w:p>" * count
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><w:document {namespace}><w:body>'.encode()
           + body + b"</w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            data = xml if item.filename == "word/document.xml" else source.read(item.filename)
            archive.writestr(item.filename, data)
    return out.getvalue()


def test_a_reader_out_of_memory_is_a_reason_not_a_crash():
    bomb = many_paragraphs_docx(2_000_000)  # 70 MB of XML, ~0.3 MB on disk
    with IsolatedReader(ReaderSettings(memory_mb=400)) as reader:
        # Over the limit lxml fails to allocate (it reports that as an XMLSyntaxError) or the
        # child dies: either way a reason for this file, and the build goes on.
        with pytest.raises(ReaderError, match="not indexed"):
            reader.read(".docx", bomb)
        # and the next file is read by a new child
        assert "Harbour report" in reader.read(".docx", kit.docx_bytes()).text
