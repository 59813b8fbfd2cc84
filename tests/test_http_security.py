"""What the server refuses (issue 6, items 2, 6, 7, 8 over HTTP): files that are not indexed
documents, hostile request bodies, oversized requests, and callers without the token.

The whole server (rag.http_api with the Gradio page mounted, as app.py serves it) runs in
FastAPI's TestClient over the tiny documents with the keyword embedder.
"""

import json
import os

import pytest
from fastapi.testclient import TestClient

from rag.index import ensure_index

SECRET = "TOP-SECRET-CONTENTS-7f3a"
"""Written into every file that must never be served; no response may contain it."""


@pytest.fixture
def server(tiny_docs, tiny_settings, keyword_embedder, tmp_path):
    import app

    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET + "\n", encoding="utf-8")
    (tiny_docs / "inside-link.txt").symlink_to(outside)
    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    # Put in the folder after the build: present on disk, not indexed.
    (tiny_docs / "later.txt").write_text(SECRET + "\n", encoding="utf-8")
    with TestClient(app.build_app(index)) as client:
        client.index = index
        yield client


def error_of(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]
    body = response.json()
    # {"detail"} is Gradio's own 404, for paths the client already normalised out of /api, /view.
    (key,) = set(body) & {"error", "detail"} or {None}
    assert key and set(body) == {key} and isinstance(body[key], str) and body[key]
    return body[key]


# -- item 7: only indexed documents can be read -------------------------------------------------

REFUSED = [
    "../../etc/passwd",
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd",  # double-encoded
    "..%5c..%5cetc%5cpasswd",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "later.txt",  # in the documents folder, not indexed
    "inside-link.txt",  # a symlink in the folder to a file outside it
    "fruit.txt/../later.txt",
    "fruit.txt%2F..%2Flater.txt",
    "./later.txt",
    "fruit.txt%00",
    "%00",
]


@pytest.mark.parametrize("path", REFUSED)
@pytest.mark.parametrize("route", ["/api/documents/", "/view/"])
def test_only_indexed_documents_are_served(server, route, path):
    response = server.get(route + path)
    assert SECRET not in response.text and "root:" not in response.text
    error_of(response, 400, 404)


def test_the_symlink_and_the_later_file_are_really_not_indexed(server, tiny_docs):
    assert (tiny_docs / "inside-link.txt").exists() and (tiny_docs / "later.txt").exists()
    assert set(server.index.sources()) == {"fruit.txt", "travel.md"}
    assert server.get("/api/documents/fruit.txt").status_code == 200


@pytest.mark.parametrize("path", [
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/file=../../etc/passwd",
    "/gradio_api/file=%2Fetc%2Fpasswd",
    "/file=/etc/passwd",
    "/gradio_api/file=pyproject.toml",
    "/static/../../etc/passwd",
    "/assets/..%2F..%2F..%2Fetc%2Fpasswd",
])
def test_gradio_file_routes_serve_no_files(server, tiny_docs, path):
    """Gradio serves uploaded and cached files; none of the server's own files are reachable."""
    response = server.get(path)
    assert response.status_code >= 400
    assert "root:" not in response.text and "[project]" not in response.text


def test_gradio_file_route_refuses_documents(server, tiny_docs):
    for target in (tiny_docs / "later.txt", tiny_docs / "inside-link.txt", tiny_docs / "fruit.txt"):
        response = server.get(f"/gradio_api/file={target}")
        assert response.status_code >= 400 and SECRET not in response.text


def test_view_escapes_the_document_text(tiny_docs, tiny_settings, keyword_embedder):
    import app

    (tiny_docs / "evil.txt").write_text(
        'Apple <script>alert(1)</script> <img src=x onerror="alert(2)"> &amp; </mark></pre>\n',
        encoding="utf-8")
    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    with TestClient(app.build_app(index)) as client:
        response = client.get("/view/evil.txt")
    assert response.status_code == 200
    html = response.text
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&amp;amp;" in html
    assert "&lt;/mark&gt;&lt;/pre&gt;" in html


@pytest.mark.parametrize("raw", ["/api/documents/../../etc/passwd", "/view/../../../etc/passwd",
                                 "/api/documents//etc/passwd", "/view/..\\..\\etc\\passwd"])
def test_raw_dot_segments_are_refused(server, raw):
    """Paths exactly as a raw client may send them (httpx would normalise the dots away)."""
    status, body = raw_get(server.app, raw)
    assert status in (400, 404) and SECRET.encode() not in body and b"root:" not in body
    assert set(json.loads(body)) <= {"error", "detail"}


def raw_get(asgi_app, path: str) -> tuple[int, bytes]:
    """One GET straight into the ASGI app, the path not normalised by any client."""
    import asyncio

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": [(b"host", b"testserver")],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    asyncio.run(asgi_app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
