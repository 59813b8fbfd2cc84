"""A folder mixing PDF (one and two columns, scanned), HTML, DOCX, Markdown and text, indexed with
the real model: pages and exact spans in the JSON, and an older index rebuilt automatically."""

from __future__ import annotations

import json
import shutil

import pytest

from rag.config import Settings
from rag.index import ensure_index, open_index
from rag.store import manifest
from tests import documents_kit as kit
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


SCANNED = "The old customs house on the quay became a bakery in the spring of 1987."


def make_folder(docs):
    docs.mkdir(exist_ok=True)
    (docs / "coast.pdf").write_bytes(kit.pdf_pages())
    left = "Orchards on the western slope grow apples and pears for the winter market. " * 6
    right = "The river below the town floods every spring and feeds the water meadows. " * 6
    (docs / "columns.pdf").write_bytes(kit.two_column_pdf(left, right))
    (docs / "museum.html").write_bytes(kit.HTML.encode("cp1252"))
    (docs / "harbour.docx").write_bytes(kit.docx_bytes())
    (docs / "notes.md").write_text("# Notes\n\nThe ferry timetable changes in October.\n", encoding="utf-8")
    shutil.copy(SEEDS / "004_5d5c85c0ad26f8dd.txt", docs / "004_5d5c85c0ad26f8dd.txt")
    (docs / "deck.pptx").write_bytes(b"PK\x03\x04")
    return docs


@pytest.fixture(scope="module")
def mixed(embedder, tmp_path_factory):
    docs = make_folder(tmp_path_factory.mktemp("mixed"))
    # Only here (not in make_folder, shared by the page-view tests): OCR takes 10-30 s a page.
    (docs / "scanned.pdf").write_bytes(kit.scanned_pdf(SCANNED, size=18))
    settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=tmp_path_factory.mktemp("mixed-index"))
    said = []
    index = ensure_index(settings, embedder=embedder, say=said.append)
    return index, said


def test_every_file_gets_one_line(mixed):
    _, said = mixed
    for name in ("coast.pdf", "columns.pdf", "scanned.pdf", "museum.html", "harbour.docx", "notes.md",
                 "004_5d5c85c0ad26f8dd.txt"):
        assert sum(line.startswith(name + " ") and "indexed in" in line for line in said) == 1, name
    assert "deck.pptx has no reader for .pptx" in " ".join(said)
    assert any(line.startswith("scanned.pdf ") and "OCR" in line for line in said), said


def test_the_scanned_page_is_answerable_by_its_ocr_text(mixed):
    index, _ = mixed
    answer = index.ask("What did the old customs house on the quay become?", k=3, sources=["scanned.pdf"])
    best = answer.to_dict()["passages"][0]
    assert best["page"] == 1 and best["page_end"] == 1
    assert best["text"] == index.document_text("scanned.pdf")[best["start"]:best["end"]]
    assert "customs house" in best["text"].lower() and "bakery" in best["text"].lower()


def test_answer_on_page_three_is_cited_to_page_three_verbatim(mixed):
    index, _ = mixed
    answer = index.ask("How many ships did the lighthouse keeper count during the storm?", k=3)
    best = answer.to_dict()["passages"][0]
    assert best["source"] == "coast.pdf"
    assert best["page"] == 3 and best["page_end"] == 3
    assert best["text"] == index.document_text("coast.pdf")[best["start"]:best["end"]]
    assert "forty-two ships" in best["text"]
    assert best["highlight_pages"] == [3] * len(best["highlights"])
    for a, b in best["highlights"]:
        assert best["start"] <= a < b <= best["end"]


def test_formats_without_pages_have_null_pages_and_docx_breaks_count(mixed):
    index, _ = mixed
    for passage in index.ask("What does the museum show?", k=10).to_dict()["passages"]:
        assert passage["text"] == index.document_text(passage["source"])[passage["start"]:passage["end"]]
        if passage["source"] in ("museum.html", "notes.md", "004_5d5c85c0ad26f8dd.txt"):
            assert passage["page"] is None and passage["highlight_pages"] == [None] * len(passage["highlights"])
    docx = index.ask("When does the harbour museum open?", k=5, sources=["harbour.docx"]).passages
    assert any(p.page_end == 2 for p in docx)


def test_an_index_from_before_readers_is_stale_and_rebuilt_with_a_message(embedder, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / "004_5d5c85c0ad26f8dd.txt", docs)
    settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=tmp_path / "index")
    ensure_index(settings, embedder=embedder)
    build = manifest.current_build(settings.index_dir)
    data = json.loads((build / manifest.MANIFEST).read_text())
    del data["readers_format"]
    (build / manifest.MANIFEST).write_text(json.dumps(data))
    with pytest.raises(Exception, match="built before rag read PDF"):
        open_index(settings=settings, embedder=embedder)
    said = []
    ensure_index(settings, embedder=embedder, say=said.append)
    assert manifest.current_build(settings.index_dir) != build
    assert any("built the index" in line for line in said)
