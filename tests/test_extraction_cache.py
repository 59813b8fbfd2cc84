"""The extraction cache: a rebuild reads no unchanged PDF, DOCX or HTML again; a changed file,
reader setting or damaged entry is read afresh; entries no longer used are removed."""

from __future__ import annotations

import pytest

from rag.config import ReaderSettings
from rag.ingest import extractions
from rag.ingest.documents import load_folder
from rag.ingest.readers.isolated import IsolatedReader
from tests import documents_kit as kit


@pytest.fixture
def folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "coast.pdf").write_bytes(kit.pdf_pages())
    (docs / "harbour.docx").write_bytes(kit.docx_bytes())
    (docs / "museum.html").write_bytes(kit.HTML.encode("cp1252"))
    (docs / "notes.txt").write_text("Plain text is never cached: decoding it is cheap.\n", encoding="utf-8")
    return docs, tmp_path / "index" / extractions.FOLDER


@pytest.fixture
def reads(monkeypatch):
    """The files the bounded reader is asked to read, by suffix, in order."""
    asked: list[str] = []
    original = IsolatedReader.read

    def counting(self, suffix, data):
        asked.append(suffix)
        return original(self, suffix, data)

    monkeypatch.setattr(IsolatedReader, "read", counting)
    return asked


def same(a, b) -> bool:
    fields = ("source", "text", "sha256", "kind", "page_starts", "boxes", "encoding", "note")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def test_a_second_load_reads_nothing_again_and_gives_the_same_documents(folder, reads):
    docs, cache = folder
    first = load_folder(docs, cache_dir=cache)
    assert sorted(reads) == [".docx", ".html", ".pdf"] and first.reused == 0
    assert len(list(cache.glob("*.extraction"))) == 3
    reads.clear()
    second = load_folder(docs, cache_dir=cache)
    assert reads == [] and second.reused == 3
    assert len(first.documents) == len(second.documents) == 4
    assert all(same(a, b) for a, b in zip(first.documents, second.documents))
    assert second.documents[0].boxes  # the PDF's character boxes come back too


def test_a_changed_file_or_setting_is_read_again_and_unused_entries_go(folder, reads):
    docs, cache = folder
    load_folder(docs, cache_dir=cache)
    (docs / "coast.pdf").write_bytes(kit.pdf_pages({1: "A new first page about the ferry pier and its lamps."}))
    reads.clear()
    changed = load_folder(docs, cache_dir=cache)
    assert reads == [".pdf"] and changed.reused == 2
    assert "ferry pier" in next(d.text for d in changed.documents if d.source == "coast.pdf")
    assert len(list(cache.glob("*.extraction"))) == 3  # the old PDF's entry was removed
    reads.clear()
    load_folder(docs, readers=ReaderSettings(ocr=False), cache_dir=cache)
    assert sorted(reads) == [".docx", ".html", ".pdf"]  # other settings: other entries


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty", "other-key"])
def test_a_damaged_entry_is_ignored_and_replaced(folder, reads, damage):
    docs, cache = folder
    fresh = load_folder(docs, cache_dir=cache)
    entries = sorted(cache.glob("*.extraction"))
    target = entries[0]
    data = target.read_bytes()
    if damage == "flip":
        middle = len(data) // 2
        damaged = data[:middle] + bytes([data[middle] ^ 0x20]) + data[middle + 1:]
    elif damage == "truncate":
        damaged = data[: len(data) - 9]
    elif damage == "garbage":
        damaged = b"\x00\xff" * 500
    elif damage == "empty":
        damaged = b""
    else:  # a whole, valid entry, but for another file: its key does not match
        damaged = entries[1].read_bytes()
    target.write_bytes(damaged)
    reads.clear()
    again = load_folder(docs, cache_dir=cache)
    assert len(reads) == 1 and again.reused == 2
    assert all(same(a, b) for a, b in zip(fresh.documents, again.documents))
    assert target.read_bytes() == data  # replaced by a good entry


def test_an_entry_that_claims_inconsistent_boxes_is_refused():
    extracted = kit_extraction()
    key = "k" * 64
    good = extractions.encode(extracted, key)
    assert extractions.decode(good, key) == extracted
    short = extractions.Extracted(**{**extracted.__dict__, "boxes": (extracted.boxes[0][:-8],) + extracted.boxes[1:]})
    assert extractions.decode(extractions.encode(short, key), key) is None
    assert extractions.decode(good, "x" * 64) is None


def kit_extraction():
    from rag.ingest.readers import pdf

    return pdf.read(kit.pdf_pages(), ReaderSettings())


def test_a_rebuild_says_the_unchanged_files_were_not_read_again(folder, keyword_embedder, reads, tmp_path):
    from rag.config import Settings
    from rag.store.build import build_index

    docs, cache = folder
    settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=cache.parent, model="keyword-test")
    build_index(settings, embedder=keyword_embedder)
    reads.clear()
    said: list[str] = []
    build_index(settings, embedder=keyword_embedder, say=said.append)
    assert reads == []
    assert "3 PDF, DOCX or HTML files unchanged since the last build: their text was not read again" in said
