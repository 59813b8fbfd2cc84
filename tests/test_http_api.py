"""The HTTP API (rag/serve/api.py) through FastAPI's TestClient: every endpoint, every error case.

Logic runs over the tiny documents with the keyword embedder; one test compares POST /api/ask with
the core API over the real seed index.
"""

import json

import pytest
from fastapi.testclient import TestClient

from rag.index import ensure_index
from rag.serve.api import create_app

HOSTILE = 'notes/<i>odd & "name".md'
HOSTILE_TEXT = (
    "# Hostile\n\nA banana <script>window.pwned = 1</script> and <img src=x onerror=alert(1)> "
    "grows here.\n\nThe river has [a link](javascript:alert(1)) and ${value} and {{value}}.\n"
)


@pytest.fixture
def client(tiny_docs, tiny_settings, keyword_embedder):
    (tiny_docs / "notes").mkdir()
    (tiny_docs / HOSTILE).write_text(HOSTILE_TEXT, encoding="utf-8")
    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    with TestClient(create_app(index)) as client:
        client.index = index
        yield client


def error_of(response, status):
    """The JSON error message of a response that must have `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return body["error"]


# -- the endpoints ------------------------------------------------------------------------------


def test_health_says_what_is_indexed(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["documents"] == 3 and body["passages"] == client.index.describe()["passages"]
    assert body["model"] == "keyword-test" and body["built"]


def test_documents_lists_every_indexed_file(client, tiny_docs):
    body = client.get("/api/documents").json()
    assert [d["source"] for d in body["documents"]] == client.index.sources()
    fruit = next(d for d in body["documents"] if d["source"] == "fruit.txt")
    assert fruit["characters"] == len((tiny_docs / "fruit.txt").read_text(encoding="utf-8"))
    assert fruit["passages"] >= 1 and len(fruit["sha256"]) == 64


def test_document_text_is_the_exact_file(client):
    from urllib.parse import quote

    body = client.get("/api/documents/" + quote(HOSTILE)).json()
    assert body == {"source": HOSTILE, "text": HOSTILE_TEXT}


@pytest.mark.parametrize("path", ["missing.txt", "..%2F..%2Fpyproject.toml", "%2Fetc%2Fpasswd",
                                  "notes", "fruit.txt%00"])
def test_only_indexed_documents_can_be_read(client, path):
    assert "not an indexed document" in error_of(client.get("/api/documents/" + path), 404)


def test_ask_returns_the_core_answer_as_json(client):
    body = client.post("/api/ask", json={"question": "banana", "k": 2}).json()
    assert body == client.index.ask("banana", k=2).to_dict()
    # Both documents hold the only query term; which ranks first is the ranker's call.
    assert {p["source"] for p in body["passages"]} == {"fruit.txt", HOSTILE}
    assert "banana" in body["passages"][0]["text"].lower()


def test_fields_added_to_the_core_json_reach_the_api(client, monkeypatch):
    from rag.search.answer import Answer

    to_dict = Answer.to_dict
    monkeypatch.setattr(Answer, "to_dict", lambda self: {**to_dict(self), "new_field": 1})
    assert client.post("/api/ask", json={"question": "banana"}).json()["new_field"] == 1


def test_ask_passes_sources_mode_and_history(client):
    body = client.post("/api/ask", json={"question": "river", "sources": ["travel.md"],
                                         "mode": "lexical", "history": ["apple"], "k": 3}).json()
    assert body["mode"] == "lexical"
    assert {p["source"] for p in body["passages"]} == {"travel.md"}


def test_openapi_describes_the_endpoints(client):
    spec = client.get("/api/openapi.json").json()
    assert {"/ask", "/documents", "/documents/{source}", "/health"} <= set(spec["paths"])
    assert spec["servers"] == [{"url": "/api"}]
    answer = spec["paths"]["/ask"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"].endswith("/AnswerDoc")
    assert {"passages", "answered"} <= set(spec["components"]["schemas"]["AnswerDoc"]["properties"])
    assert spec["paths"]["/ask"]["post"]["responses"]["400"]
    assert client.get("/api/docs").status_code == 200


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"question": ""}, "the question is empty"),
        ({"question": " \n\t "}, "the question is empty"),
        ({"question": "apple", "sources": ["nope.txt"]}, "unknown source 'nope.txt'"),
        ({"question": "apple", "k": 0}, "k must be between 1 and 50"),
        ({"question": "apple", "k": 51}, "k must be between 1 and 50"),
        ({"question": "apple", "k": "3"}, "k: Input should be a valid integer"),
        ({"question": "apple", "k": 2.5}, "k: Input should be a valid integer"),
        ({"question": "apple", "mode": "fuzzy"}, "mode must be one of hybrid, dense, lexical"),
        ({"question": "apple", "history": "apple"}, "history: Input should be a valid list"),
        ({"question": "apple", "kk": 3}, "kk: Extra inputs are not permitted"),
        ({"k": 3}, "question: this field is required"),
        ({"question": 7}, "question: Input should be a valid string"),
        ({"question": "x" * 2001}, "the limit is 2000"),
    ],
)
def test_ask_rejects_bad_requests_with_a_message(client, body, expected):
    assert expected in error_of(client.post("/api/ask", json=body), 400)


@pytest.mark.parametrize("content, headers, expected", [
    ("{bad", {"content-type": "application/json"}, "the body is not valid JSON"),
    ("[1, 2]", {"content-type": "application/json"}, "must be a JSON object"),
    ('{"question": "apple"}', {"content-type": "text/plain"}, "Content-Type: application/json"),
    ("", {}, "required"),
])
def test_ask_rejects_malformed_bodies(client, content, headers, expected):
    assert expected in error_of(client.post("/api/ask", content=content, headers=headers), 400)


def test_unknown_endpoints_and_methods_are_json_errors(client):
    assert "no endpoint /api/nothing" in error_of(client.get("/api/nothing"), 404)
    assert "GET is not allowed on /api/ask" in error_of(client.get("/api/ask"), 405)
    assert "not allowed" in error_of(client.post("/api/health"), 405)


def test_a_stale_index_is_a_503_that_says_to_rebuild(client, tiny_docs, monkeypatch):
    monkeypatch.setattr("rag.store.freshness.FRESHNESS_INTERVAL", 0.0)
    (tiny_docs / "fruit.txt").write_text("Changed.\n", encoding="utf-8")
    assert "rag index" in error_of(client.post("/api/ask", json={"question": "apple"}), 503)


# -- the source viewer --------------------------------------------------------------------------


def test_view_marks_the_passage_and_escapes_everything(client):
    from urllib.parse import quote

    start = HOSTILE_TEXT.index("A banana")
    end = HOSTILE_TEXT.index("grows here.") + len("grows here.")
    hl = f"{start}-{start + 8}"
    response = client.get(f"/view/{quote(HOSTILE)}", params={"start": start, "end": end, "hl": hl})
    assert response.status_code == 200
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none'
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    html = response.text
    assert "<script>" not in html and "<img" not in html
    assert '<mark id="passage"><strong>A banana</strong> &lt;script&gt;window.pwned = 1' in html
    assert "notes/&lt;i&gt;odd &amp; &quot;name&quot;.md" in html


@pytest.mark.parametrize("params, status", [
    ({"start": 5, "end": 5}, 400),
    ({"start": -1, "end": 5}, 400),
    ({"start": 0, "end": 10_000}, 400),
    ({"start": 0, "end": 20, "hl": "15-30"}, 400),
    ({"start": 0, "end": 20, "hl": "x"}, 400),
    ({"start": "a"}, 400),
])
def test_view_refuses_bad_offsets(client, params, status):
    error_of(client.get("/view/fruit.txt", params=params), status)


def test_view_of_an_unknown_document_is_404(client):
    error_of(client.get("/view/../../etc/passwd", params={"start": 0, "end": 1}), 404)
    error_of(client.get("/view/nope.txt"), 404)


# -- the real model -----------------------------------------------------------------------------


def test_api_answer_is_the_cli_json_over_the_seeds(seed_index):
    question = "What did NATO's Secretary General say about North Korean troops in Ukraine?"
    with TestClient(create_app(seed_index)) as client:
        response = client.post("/api/ask", json={"question": question, "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert json.dumps(body, sort_keys=True) == json.dumps(seed_index.ask(question, k=3).to_dict(),
                                                          sort_keys=True)
    top = body["passages"][0]
    assert body["answered"] and top["source"] == "004_5d5c85c0ad26f8dd.txt"
    (start, end), *_ = top["highlights"]
    assert "Mark Rutte" in seed_index.document_text(top["source"])[start:end]


def test_the_readme_curl_example_works(seed_index):
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    url, body = re.search(r"curl -s http://127\.0\.0\.1:7860(/api/\w+) .*?-d '([^']+)'", readme,
                          re.S).groups()
    with TestClient(create_app(seed_index)) as client:
        response = client.post(url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["answered"] is True
    assert "Mark Rutte" in response.json()["passages"][0]["text"]
