"""The web page's rendering and wiring (the browser tests live in test_browser.py)."""

import os
import time
from contextlib import contextmanager

from rag.search.answer import Answer, Passage
from rag.serve.render import NO_ANSWER, answer_html


def make_passage(text, highlights=(), low=False):
    return Passage(rank=1, source="<b>x</b>.txt", start=10, end=10 + len(text), line_start=2,
                   line_end=3, text=text, score=0.5, confidence=0.2 if low else 0.7,
                   low_confidence=low, highlights=highlights)


def test_document_text_is_escaped():
    passage = make_passage("<script>alert(1)</script> and [link](javascript:x)", ((10, 35),))
    html = answer_html(Answer("q", True, 0.7, "hybrid", (passage,)))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;.txt" in html
    assert "<mark>" in html


def test_highlight_marks_the_exact_span():
    passage = make_passage("One sentence. Two sentence.", ((24, 37),))
    html = answer_html(Answer("q", True, 0.7, "hybrid", (passage,)))
    assert "<mark>Two sentence.</mark>" in html


def test_abstention_is_said_and_passages_marked_low():
    passage = make_passage("Unrelated text.", low=True)
    html = answer_html(Answer("q", False, 0.2, "hybrid", (passage,)))
    assert NO_ANSWER in html and "low confidence" in html


def test_ui_builds_over_a_real_index(seed_index):
    from rag.serve import page as app

    demo = app.build_ui(seed_index)
    assert demo is not None


# -- the conversation, status line and source page ------------------------------------------------


def test_conversation_escapes_questions_and_errors():
    from rag.serve.render import Turn, conversation_html

    html = conversation_html([Turn("<img src=x onerror=alert(1)>", error="bad <b>k</b>"),
                              Turn("q", answer=Answer("q", True, 0.7, "hybrid",
                                                      (make_passage("t"),), used_history=True))])
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "bad &lt;b&gt;k&lt;/b&gt;" in html
    assert "follow-up" in html and html.count('class="turn"') == 2
    assert "Ask a question" in conversation_html([])


def test_confidence_labels_follow_the_threshold():
    from rag.serve.render import match_label

    assert match_label(0.39, 0.40)[1] == "weak" and "low confidence" in match_label(0.39, 0.40)[0]
    assert match_label(0.40, 0.40)[1] == "good"
    assert match_label(0.55, 0.40)[1] == "strong"


def test_calibrated_support_labels_follow_the_abstainers_cut_and_even_odds():
    from rag.serve.render import match_label

    # A probability: weak under the abstainer's cut, strong only from 0.5 (more likely than not),
    # however close a cosine-style margin would put it.
    assert match_label(0.19, 0.20, calibrated=True)[1] == "weak"
    assert match_label(0.36, 0.20, calibrated=True)[1] == "good"
    assert match_label(0.50, 0.20, calibrated=True)[1] == "strong"
    assert match_label(0.36, 0.20)[1] == "strong"  # the same numbers as cosines


def test_open_the_source_links_to_the_viewer_at_the_passage():
    from rag.serve.render import passage_html

    html = passage_html(make_passage("One sentence. Two sentence.", ((24, 37),)))
    assert 'href="view/%3Cb%3Ex%3C/b%3E.txt?start=10&amp;end=37&amp;hl=24-37#passage"' in html


def test_source_page_marks_the_passage_and_escapes_the_document():
    from rag.serve.render import source_page_html

    text = "<h1>Title</h1>\nBefore. The passage <script>x()</script> here. After."
    start, end = text.index("The passage"), text.index(" After.")
    html = source_page_html("a<b>.md", text, start, end, [(start, start + 11)])
    assert "<script>" not in html and "<h1>" not in html
    assert ('<mark id="passage"><strong>The passage</strong> &lt;script&gt;x()&lt;/script&gt; '
            "here.</mark> After.") in html
    assert "<title>a&lt;b&gt;.md</title>" in html


def test_status_line_says_what_is_indexed():
    from rag.serve.render import status_html

    html = status_html({"documents": 5, "passages": 70, "model": "m<x>",
                        "built": "2026-11-21T19:50:45+00:00"})
    assert "<b>5</b> documents" in html and "<b>70</b> passages" in html
    assert "m&lt;x&gt;" in html and "built 2026-11-21 19:50:45 UTC" in html


# -- the server ---------------------------------------------------------------------------------


def test_port_comes_from_the_flag_then_gradio_server_port_then_7860(monkeypatch):
    import app

    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    assert app.parse_args([]).port == 7860 and app.parse_args([]).host == "127.0.0.1"
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8123")
    assert app.parse_args([]).port == 8123
    assert app.parse_args(["--port", "9000"]).port == 9000


def test_a_bad_gradio_server_port_is_a_usage_error(monkeypatch, capsys):
    import pytest

    import app

    monkeypatch.setenv("GRADIO_SERVER_PORT", "http")
    with pytest.raises(SystemExit) as exit_info:
        app.parse_args([])
    assert exit_info.value.code == 2 and "GRADIO_SERVER_PORT='http'" in capsys.readouterr().err


def test_only_other_interfaces_are_warned_about():
    from rag.serve import page as app

    assert app.host_warning("127.0.0.1") is None and app.host_warning("localhost") is None
    assert "anyone who can reach" in app.host_warning("0.0.0.0")


def test_the_gradio_client_api_answers_like_the_http_api(seed_index):
    import pytest
    from gradio_client import Client

    from tests.browser_tools import serving

    question = "What did NATO's Secretary General say about North Korean troops in Ukraine?"
    with serving(seed_index) as url:
        client = Client(url + "/", verbose=False, download_files=False)
        result = client.predict(question, 3, None, "hybrid", None, api_name="/ask")
        assert result == seed_index.ask(question, k=3).to_dict()
        assert client.predict(question, api_name="/ask")["passages"][0]["rank"] == 1
        only = client.predict(question, 2, ["000_526aaf833095b6c5.txt"], "dense", [question],
                              api_name="/ask")
        assert only["mode"] == "dense" and len(only["passages"]) == 2
        assert {p["source"] for p in only["passages"]} == {"000_526aaf833095b6c5.txt"}
        with pytest.raises(Exception, match="the question is empty"):
            client.predict("  ", api_name="/ask")


@contextmanager
def running_app(docs, index_dir, *extra):
    """`python app.py` as `scripts/run` starts it, on a free port; yields its URL once it answers."""
    import socket
    import subprocess
    import sys

    import httpx

    from tests.conftest import ROOT

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["GRADIO_SERVER_PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, "app.py", "--docs-dir", str(docs), "--index-dir", str(index_dir), *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # model load on a slow shared machine; not a speed check
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                httpx.get(url + "/api/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "app.py did not start listening"
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_app_py_serves_page_and_api_on_gradio_server_port(seed_index):
    """The real entry point, as `scripts/run` starts it, over the already-built seed index."""
    import httpx

    settings = seed_index.settings
    with running_app(settings.docs_dir, settings.index_dir) as url:
        assert httpx.get(url + "/api/health", timeout=30).json()["documents"] == 5
        answer = httpx.post(url + "/api/ask", json={"question": "Who is Kim Jong-un?", "k": 2},
                            timeout=60).json()
        assert len(answer["passages"]) == 2
        page = httpx.get(url + "/", timeout=30)
        assert page.status_code == 200 and "Ask the documents" in page.text


def test_the_running_app_follows_document_changes_without_a_restart(tmp_path):
    """A document added while the app serves is indexed by its watcher and answered from."""
    import shutil

    import httpx

    from tests.conftest import SEEDS

    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    with running_app(docs, tmp_path / "index") as url:
        (docs / "zebra.txt").write_text(
            "The zebra aquarium of Lisbon opened its shark tunnel in 1998.\n", encoding="utf-8"
        )
        deadline = time.monotonic() + 300  # an incremental rebuild on a slow machine
        while True:
            answer = httpx.post(url + "/api/ask", timeout=60, json={
                "question": "When did the zebra aquarium of Lisbon open its shark tunnel?", "k": 1,
            }).json()
            if answer["passages"][0]["source"] == "zebra.txt":
                break
            assert time.monotonic() < deadline, "the new document was never answered from"
            time.sleep(1)
        assert answer["answered"] is True
        sources = [d["source"] for d in httpx.get(url + "/api/documents", timeout=30).json()["documents"]]
        assert "zebra.txt" in sources
