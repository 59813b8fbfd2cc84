"""Adding documents: names sanitised, formats and sizes limited, no overwrite unless asked, atomic
writes (logic, no model); over HTTP with the token, the watcher indexing an uploaded PDF so it is
answerable without a restart (keyword embedder)."""

from __future__ import annotations

import time

import pytest

from rag.ingest.uploads import UploadError, UploadExistsError, safe_name, save_upload
from tests import documents_kit as kit


@pytest.mark.parametrize("name,expected", [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\win.ini.md", "win.ini.md"),
    ("/abs/path/notes.MD", "notes.MD"),
    ("a\x00b\x1f.txt", "ab.txt"),
    ("x<script>.html", "x_script_.html"),
    ("Ünïcödé név.docx", "Ünïcödé név.docx"),
])
def test_names_are_reduced_to_a_safe_file_name(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["", "..", ".env.txt", "dir/", "photo.jpg", "noext", "a.pdf/.."])
def test_unusable_names_and_formats_are_refused(name):
    with pytest.raises(UploadError):
        safe_name(name)


def test_save_is_atomic_limited_and_never_overwrites_unasked(tmp_path):
    pdf = kit.pdf_pages()
    assert save_upload(tmp_path, "a.pdf", pdf, max_bytes=10**7) == "a.pdf"
    assert (tmp_path / "a.pdf").read_bytes() == pdf
    with pytest.raises(UploadExistsError):
        save_upload(tmp_path, "a.pdf", b"%PDF-1.4 other", max_bytes=10**7)
    assert (tmp_path / "a.pdf").read_bytes() == pdf
    save_upload(tmp_path, "a.pdf", pdf[:-1] + b"\n", max_bytes=10**7, overwrite=True)
    assert (tmp_path / "a.pdf").read_bytes().endswith(b"\n")
    with pytest.raises(UploadError, match="over the upload limit"):
        save_upload(tmp_path, "big.txt", b"x" * 101, max_bytes=100)
    with pytest.raises(UploadError, match="not a PDF"):
        save_upload(tmp_path, "fake.pdf", b"<html>", max_bytes=100)
    with pytest.raises(UploadError, match="empty"):
        save_upload(tmp_path, "e.txt", b"", max_bytes=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf"]  # no temporary file left


def test_an_uploaded_pdf_is_indexed_by_the_watcher_and_answerable(watched_live):
    from fastapi.testclient import TestClient

    from rag.serve.api import create_app

    live = watched_live
    http = TestClient(create_app(live, token="t0ken"))
    auth = {"Authorization": "Bearer t0ken"}
    data = kit.pdf_pages({1: "Nothing here.", 2: "Nor here.", 3: "The banana train crosses the river."})
    assert http.post("/api/documents?name=fruit.pdf", content=data).status_code == 401
    assert http.post("/api/documents?name=fruit.txt", content=data, headers=auth).status_code == 409
    assert http.post("/api/documents?name=x.exe", content=data, headers=auth).status_code == 400
    big = http.post("/api/documents?name=big.txt", content=b"x" * 10_000_001, headers=auth)
    assert big.status_code == 413
    made = http.post("/api/documents?name=../trains.pdf", content=data, headers=auth)
    assert made.status_code == 201 and made.json()["source"] == "trains.pdf"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = http.get("/api/documents", headers=auth).json()
        if any(d["source"] == "trains.pdf" for d in listed["documents"]):
            break
        time.sleep(0.3)
    else:
        pytest.fail("the uploaded PDF was not indexed within 120 s")
    answer = http.post("/api/ask", json={"question": "banana train river", "k": 1,
                                         "sources": ["trains.pdf"]}, headers=auth).json()
    passage = answer["passages"][0]
    assert passage["page"] == 3 and "banana train" in passage["text"]
