"""The source view of a PDF passage: its page rendered by the server with the passage and its
supporting sentence marked where they are drawn; other formats as text. HTTP level, real model."""

from __future__ import annotations

import re

import pytest

from rag.config import Settings
from rag.index import ensure_index
from tests import documents_kit as kit
from tests.test_formats_integration import make_folder

pytestmark = pytest.mark.slow
QUESTION = "How many ships did the lighthouse keeper count during the storm?"


@pytest.fixture(scope="module")
def client(embedder, tmp_path_factory):
    from fastapi.testclient import TestClient

    from rag.serve.api import create_app

    docs = make_folder(tmp_path_factory.mktemp("pages-docs"))
    settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=tmp_path_factory.mktemp("pages-index"))
    index = ensure_index(settings, embedder=embedder)
    return TestClient(create_app(index)), index, docs


def view_url(passage):
    query = "&".join([f"start={passage['start']}", f"end={passage['end']}"]
                     + [f"hl={a}-{b}" for a, b in passage["highlights"]])
    return f"/view/{passage['source']}?{query}"


def test_pdf_passage_shows_its_page_image_with_marks_inside_it(client):
    http, _, _ = client
    passage = http.post("/api/ask", json={"question": QUESTION, "k": 1}).json()["passages"][0]
    assert passage["source"] == "coast.pdf" and passage["page"] == 3
    page = http.get(view_url(passage))
    assert page.status_code == 200
    assert "img-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert 'data-page="3"' in html and 'src="?image=3"' in html and 'data-page="1"' not in html
    boxes = re.findall(r'class="box (passage|support)"(?: id="passage")? style="left:([\d.]+)%;top:([\d.]+)%;'
                       r'width:([\d.]+)%;height:([\d.]+)%', html)
    assert {kind for kind, *_ in boxes} == {"passage", "support"}
    for _, left, top, width, height in boxes:
        assert 0 <= float(left) and float(left) + float(width) <= 100.01 and float(height) > 0
        assert float(top) < 30  # the paragraph is at the top of the page
    assert html.count('id="passage"') == 1
    image = http.get("/view/coast.pdf?image=3")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")


def test_page_images_only_for_indexed_unchanged_pdfs(client):
    http, _, docs = client
    assert http.get("/view/museum.html?image=1").status_code == 400
    assert http.get("/view/coast.pdf?image=99").status_code == 400
    assert http.get("/view/secret.pdf?image=1").status_code == 404
    html = http.get("/view/museum.html?start=0&end=10").text
    assert "<img" not in html and '<mark id="passage">' in html


def test_a_changed_pdf_falls_back_to_the_text_view(client, tmp_path):
    http, index, docs = client
    passage = index.ask(QUESTION, k=1).to_dict()["passages"][0]
    original = (docs / "coast.pdf").read_bytes()
    try:
        (docs / "coast.pdf").write_bytes(kit.pdf_pages({1: "Something else entirely, on one page."}))
        html = http.get(view_url(passage)).text
        assert "<img" not in html and '<mark id="passage">' in html
        assert http.get("/view/coast.pdf?image=3").status_code == 400
    finally:
        (docs / "coast.pdf").write_bytes(original)
