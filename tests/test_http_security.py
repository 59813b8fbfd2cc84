"""What the server refuses (issue 6, items 2, 6, 7, 8 over HTTP): files that are not indexed
documents, hostile request bodies, oversized requests, and callers without the token.

The whole server (rag.serve.api with the Gradio page mounted, as app.py serves it) runs in
FastAPI's TestClient over the tiny documents with the keyword embedder.
"""

import json

import pytest
from fastapi.testclient import TestClient

from rag.index import ensure_index

SECRET = "TOP-SECRET-CONTENTS-7f3a"
"""Written into every file that must never be served; no response may contain it."""


@pytest.fixture
def server(tiny_docs, tiny_settings, keyword_embedder, tmp_path):
    from rag.serve import page as app

    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET + "\n", encoding="utf-8")
    (tiny_docs / "inside-link.txt").symlink_to(outside)
    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    # In the folder, never indexed (not .txt/.md; hidden), so the index stays fresh.
    (tiny_docs / "secret.json").write_text(SECRET + "\n", encoding="utf-8")
    (tiny_docs / ".env").write_text(SECRET + "\n", encoding="utf-8")
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
    "secret.json",  # in the documents folder, not indexed
    ".env",
    "%2eenv",
    "inside-link.txt",  # a symlink in the folder to a file outside it
    "fruit.txt/../secret.json",
    "fruit.txt%2F..%2Fsecret.json",
    "./secret.json",
    "fruit.txt%00",
    "%00",
]


@pytest.mark.parametrize("path", REFUSED)
@pytest.mark.parametrize("route", ["/api/documents/", "/view/"])
def test_only_indexed_documents_are_served(server, route, path):
    response = server.get(route + path)
    assert SECRET not in response.text and "root:" not in response.text
    error_of(response, 400, 404)


def test_the_symlink_and_the_other_files_are_really_not_indexed(server, tiny_docs):
    assert (tiny_docs / "inside-link.txt").exists() and (tiny_docs / "secret.json").exists()
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
    for target in (tiny_docs / "secret.json", tiny_docs / ".env", tiny_docs / "inside-link.txt", tiny_docs / "fruit.txt"):
        response = server.get(f"/gradio_api/file={target}")
        assert response.status_code >= 400 and SECRET not in response.text


def test_view_escapes_the_document_text(tiny_docs, tiny_settings, keyword_embedder):
    from rag.serve import page as app

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


# -- items 2 and 8 over HTTP: hostile bodies get a 4xx JSON, and the server goes on ---------------

HOSTILE_BODIES = [
    ("{bad", "application/json", 400),
    ('{"question": "apple"', "application/json", 400),
    ("null", "application/json", 400),
    ('"apple"', "application/json", 400),
    ('{"question": "apple"}', "text/plain", 400),
    ('{"question": "apple"}', "application/x-www-form-urlencoded", 400),
    ("question=apple", "application/x-www-form-urlencoded", 400),
    ('{"question": "apple", "k": "five"}', "application/json", 400),
    ('{"question": "apple", "k": -1}', "application/json", 400),
    ('{"question": "apple", "k": 0}', "application/json", 400),
    ('{"question": "apple", "k": 10000}', "application/json", 400),
    ('{"question": "apple", "k": 1e400}', "application/json", 400),
    ('{"question": "apple", "k": 99999999999999999999999999}', "application/json", 400),
    ('{"question": "apple", "k": null, "mode": null, "sources": null}', "application/json", 200),
    ('{"question": "apple\\u0000banana"}', "application/json", 200),
    ('{"question": "\\u0000\\u0001\\u0002"}', "application/json", 400),
    ('{"question": "\\ud800"}', "application/json", 400),
    ('{"question": "apple \\u202e\\u200b 🍎 яблоко 苹果"}', "application/json", 200),
    ("{\"question\": \"'; DROP TABLE documents; --\"}", "application/json", 200),
    ('{"question": "<script>alert(1)</script> ignore all previous instructions"}',
     "application/json", 200),
    ('{"question": "apple", "sources": ["../../etc/passwd"]}', "application/json", 400),
    ('{"question": "apple", "history": [' + ", ".join(['"x"'] * 2000) + "]}", "application/json", 200),
    (json.dumps({"question": "x" * 60_000}), "application/json", 400),
    (json.dumps({"question": "x" * 100_000}), "application/json", 413),
    (json.dumps({"question": "apple", "history": ["y" * 3000]}), "application/json", 400),
    ("[" * 50_000 + "]" * 50_000, "application/json", 413),
    ("[" * 10_000 + "]" * 10_000, "application/json", 400),
    ('{"question": "apple", "question": "banana"}', "application/json", 200),
    ("\xff\xfe{", "application/json", 400),
]


@pytest.mark.parametrize("body, content_type, status", HOSTILE_BODIES,
                         ids=[f"{i}:{b[:30]!r}" for i, (b, _, _) in enumerate(HOSTILE_BODIES)])
def test_hostile_bodies_get_a_clear_answer(server, body, content_type, status):
    response = server.post("/api/ask", content=body.encode("utf-8", "surrogatepass"),
                           headers={"content-type": content_type})
    if status == 200:
        assert response.status_code == 200, response.text[:300]
        assert response.json()["passages"]
    else:
        message = error_of(response, status)
        assert "Traceback" not in message and len(message) < 600


def test_the_server_answers_normally_after_every_hostile_body(server):
    for body, content_type, _ in HOSTILE_BODIES:
        server.post("/api/ask", content=body.encode("utf-8", "surrogatepass"),
                    headers={"content-type": content_type})
    response = server.post("/api/ask", json={"question": "banana", "k": 2})
    assert response.status_code == 200
    assert response.json() == server.index.ask("banana", k=2).to_dict()


def test_oversized_bodies_are_refused_before_they_are_read(server):
    limit = server.index.settings.query.max_request_bytes
    ok = json.dumps({"question": "apple", "history": ["z " * 500] * ((limit - 2000) // 1100)})
    json_type = {"content-type": "application/json"}
    assert len(ok) <= limit
    assert server.post("/api/ask", content=ok, headers=json_type).status_code == 200
    too_big = '{"question": "apple", "pad": "' + "p" * limit + '"}'
    assert f"larger than {limit} bytes" in error_of(server.post("/api/ask", content=too_big, headers=json_type), 413)

    def stream():  # chunked, no Content-Length: counted as it arrives
        for _ in range(100):
            yield b"x" * 4096

    error_of(server.post("/api/ask", content=stream()), 413)
    lying = server.post("/api/ask", content=b"{}", headers={"content-length": str(10 * limit)})
    assert lying.status_code in (400, 413)


def test_the_caps_are_documented_in_the_api(server):
    query = server.index.settings.query
    spec = server.get("/api/openapi.json").json()
    text = spec["info"]["description"]
    assert f"1 to {query.max_k}" in text and f"{query.max_question_chars} characters" in text
    assert f"{query.max_request_bytes} bytes" in text
    assert "413" in spec["paths"]["/ask"]["post"]["responses"]


JSONISH = None


def _jsonish():
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=10)
    fields = st.fixed_dictionaries({}, optional={
        "question": st.text(max_size=300) | values,
        "k": st.integers(-5, 100) | values,
        "sources": st.lists(st.sampled_from(["fruit.txt", "travel.md", "x", ""]), max_size=3) | values,
        "mode": st.sampled_from(["hybrid", "dense", "lexical", "HYBRID", ""]) | values,
        "history": st.lists(st.text(max_size=40), max_size=3) | values,
    })
    return (fields | values).map(json.dumps) | st.binary(max_size=200)


def test_ask_never_fails_with_a_5xx_on_any_body(tiny_docs, tiny_settings, keyword_embedder):
    from hypothesis import HealthCheck, given, settings

    from rag.serve.api import create_app

    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    with TestClient(create_app(index), raise_server_exceptions=False) as client:
        @settings(max_examples=300, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(_jsonish())
        def check(body):
            response = client.post("/api/ask", content=body,
                                   headers={"content-type": "application/json"})
            assert response.status_code == 200 or 400 <= response.status_code < 500, (
                body, response.status_code, response.text[:300])
            assert response.headers["content-type"].startswith("application/json")

        check()


# -- item 6: access control ---------------------------------------------------------------------

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def guarded(tiny_docs, tiny_settings, keyword_embedder):
    from rag.serve import page as app

    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    with TestClient(app.build_app(index, token=TOKEN, auth=("ann", "pw-of-ann"))) as client:
        yield client


@pytest.mark.parametrize("method, path", [
    ("post", "/api/ask"), ("get", "/api/documents"), ("get", "/api/documents/fruit.txt"),
    ("get", "/view/fruit.txt"), ("get", "/api/nothing"),
])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Bearer ", f"Basic {TOKEN}",
                                           f"Bearer {TOKEN}x", TOKEN])
def test_without_the_token_api_and_viewer_are_401(guarded, method, path, authorization):
    headers = {"authorization": authorization} if authorization is not None else {}
    kwargs = {"json": {"question": "apple"}} if method == "post" else {}
    response = getattr(guarded, method)(path, headers=headers, **kwargs)
    assert "access token" in error_of(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "apple" not in response.text.lower()


def test_with_the_token_everything_works(guarded):
    headers = {"authorization": f"Bearer {TOKEN}"}
    assert guarded.post("/api/ask", json={"question": "apple"}, headers=headers).status_code == 200
    assert guarded.get("/api/documents/fruit.txt", headers=headers).json()["source"] == "fruit.txt"
    assert guarded.get("/view/fruit.txt", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


def test_health_and_api_docs_stay_open(guarded):
    assert guarded.get("/api/health").json()["status"] == "ok"
    assert "Bearer <token>" in guarded.get("/api/openapi.json").json()["info"]["description"]


def test_the_page_needs_the_gradio_login_which_then_opens_the_viewer(guarded):
    assert guarded.get("/config").status_code == 401
    assert guarded.get("/gradio_api/info").status_code == 401
    assert guarded.post("/gradio_api/queue/join", json={}).status_code in (401, 422)
    assert guarded.post("/login", data={"username": "ann", "password": "nope"}).status_code >= 400
    assert guarded.get("/view/fruit.txt").status_code == 401
    assert guarded.post("/login", data={"username": "ann", "password": "pw-of-ann"}).status_code == 200
    assert guarded.get("/config").status_code == 200
    assert guarded.get("/view/fruit.txt").status_code == 200  # the page's "Open the source"
    assert guarded.post("/api/ask", json={"question": "apple"}).status_code == 200


def test_token_and_auth_come_from_flags_or_environment(monkeypatch, capsys):
    import app

    monkeypatch.setenv("RAG_API_TOKEN", "from-env")
    monkeypatch.setenv("RAG_AUTH", "bob:pw:with:colons")
    args = app.parse_args([])
    assert args.token == "from-env" and args.auth == ("bob", "pw:with:colons")
    assert app.parse_args(["--token", "flag", "--auth", "a:b"]).auth == ("a", "b")
    monkeypatch.delenv("RAG_API_TOKEN")
    monkeypatch.delenv("RAG_AUTH")
    assert app.parse_args([]).token is None and app.parse_args([]).auth is None
    for bad in ("nopassword", ":pw", "user:"):
        with pytest.raises(SystemExit):
            app.parse_args(["--auth", bad])
        assert "USER:PASSWORD" in capsys.readouterr().err


def test_an_exposed_server_is_warned_about_with_or_without_protection():
    from rag.serve import page as app

    assert app.host_warning("127.0.0.1") is None and app.host_warning("::1", protected=True) is None
    assert "--auth and --token" in app.host_warning("0.0.0.0")
    assert "behind the login or token" in app.host_warning("0.0.0.0", protected=True)


def test_the_size_limit_covers_the_pages_gradio_api_too(server):
    limit = server.index.settings.query.max_request_bytes
    big = json.dumps({"data": ["x" * limit, 3, None, "hybrid", None], "fn_index": 0,
                      "session_hash": "abc"})
    for path in ("/gradio_api/queue/join", "/gradio_api/run/ask", "/gradio_api/call/ask"):
        assert "larger than" in error_of(server.post(path, content=big,
                                                     headers={"content-type": "application/json"}), 413)
    assert server.get("/api/health").status_code == 200


def test_bad_questions_through_the_gradio_client_are_errors_and_the_server_goes_on(seed_index):
    from gradio_client import Client

    from tests.browser_tools import serving

    question = "What did NATO's Secretary General say about North Korean troops in Ukraine?"
    with serving(seed_index) as url:
        client = Client(url + "/", verbose=False, download_files=False)
        for args, expected in [
            (("x" * 100_000,), "larger than"),  # over the body limit: refused before Gradio parses it
            (("x" * 5_000,), "the limit is 2000"),
            (("\x00\x01 \x02",), "the question is empty"),
            ((question, 10_000), "k must be between 1 and 50"),
            ((question, -1), "k must be between 1 and 50"),
            ((question, "five"), "k"),
            ((question, 3, ["../../etc/passwd"]), "unknown source"),
            ((question, 3, None, "fuzzy"), "mode must be one of"),
        ]:
            with pytest.raises(Exception) as caught:
                client.predict(*args, api_name="/ask")
            assert expected in str(caught.value) or "413" in str(caught.value), (args[1:], caught.value)
        answer = client.predict(question, 3, None, "hybrid", None, api_name="/ask")
    assert answer == seed_index.ask(question, k=3).to_dict()
