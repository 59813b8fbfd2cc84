"""The same answers from Milvus Lite as from local FAISS, with the real model: on the seeds and
on a slice of SciFact, exact search on both sides. Ranks and forms are compared, never scores."""

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("milvus_lite", reason="Milvus Lite is not installed: pip install '.[milvus]'")

from rag.config import Settings  # noqa: E402
from rag.index import ensure_index  # noqa: E402
from tests.conftest import SEEDS  # noqa: E402

pytestmark = pytest.mark.slow

SCIFACT = Path("/work/shared/bench-data/scifact")
SLICE_DOCUMENTS = 120
SLICE_QUESTIONS = 50
SEED_QUESTIONS = [
    "Who leads NATO?",
    "What did NATO's Secretary General say about North Korean troops in Ukraine?",
    "Which country is at war with two nations?",
    "How many people were killed?",
    "What is a good banana bread recipe?",
    "When did the attack happen?",
    "Who is the president of Ukraine?",
    "What did the report say about the economy?",
]


def pair(embedder, docs: Path, root: Path, embed_sentences: bool):
    """A FAISS Flat index and a Milvus Lite FLAT index of the same folder."""
    base = Settings.from_env(environ={}, docs_dir=docs, index_dir=root / "faiss", dense_index="Flat",
                             embed_sentences=embed_sentences)
    local = ensure_index(base, embedder=embedder)
    shutil.copytree(root / "faiss" / "embeddings", root / "milvus" / "embeddings")  # embed once
    remote = ensure_index(
        base.with_overrides(index_dir=root / "milvus", store="milvus", milvus_uri=str(root / "m.db")),
        embedder=embedder,
    )
    return local, remote


@pytest.fixture(scope="module")
def seeds(embedder, tmp_path_factory):
    root = tmp_path_factory.mktemp("parity-seeds")
    shutil.copytree(SEEDS, root / "docs")
    return pair(embedder, root / "docs", root, embed_sentences=True)


@pytest.fixture(scope="module")
def scifact(embedder, tmp_path_factory):
    """The first SLICE_DOCUMENTS abstracts as text files, and the first SLICE_QUESTIONS claims."""
    if not (SCIFACT / "corpus.jsonl").is_file():
        pytest.skip(f"SciFact is not in {SCIFACT}")
    root = tmp_path_factory.mktemp("parity-scifact")
    docs = root / "docs"
    docs.mkdir()
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as corpus:
        for _, line in zip(range(SLICE_DOCUMENTS), corpus):
            row = json.loads(line)
            (docs / f"{row['_id']}.txt").write_text(f"{row['title']}\n\n{row['text']}\n", encoding="utf-8")
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as queries:
        questions = [json.loads(line)["text"] for _, line in zip(range(SLICE_QUESTIONS), queries)]
    return (*pair(embedder, docs, root, embed_sentences=False), questions)


def top(index, question, mode):
    return [(p.source, p.start, p.end) for p in index.ask(question, k=5, mode=mode).passages]


def form(data):
    """The JSON of an answer with every value replaced by its type (the form, not the figures)."""
    if isinstance(data, dict):
        return {key: form(value) for key, value in data.items()}
    if isinstance(data, list):
        return [form(value) for value in data]
    return type(data).__name__


def test_seeds_dense_top5_equal_and_hybrid_agrees(seeds):
    local, remote = seeds
    assert remote.manifest.data["dense_index"] == "milvus FLAT" and local.manifest.data["dense_index"] == "Flat"
    for question in SEED_QUESTIONS:
        assert top(remote, question, "dense") == top(local, question, "dense"), question
    agree = sum(top(remote, q, "hybrid") == top(local, q, "hybrid") for q in SEED_QUESTIONS)
    assert agree >= 0.95 * len(SEED_QUESTIONS)


def test_seeds_offsets_highlights_and_json_identical_in_form(seeds):
    local, remote = seeds
    for question in SEED_QUESTIONS[:4]:
        for mode in ("dense", "hybrid"):
            a, b = local.ask(question, mode=mode), remote.ask(question, mode=mode)
            assert form(b.to_dict()) == form(a.to_dict())
            assert [(p.highlights, p.answers if hasattr(p, "answers") else None) for p in b.passages] == \
                [(p.highlights, p.answers if hasattr(p, "answers") else None) for p in a.passages]
            assert b.answered == a.answered
            for passage in b.passages:
                text = remote.document_text(passage.source)
                assert text[passage.start : passage.end] == passage.text
                assert all(text[s:e] in passage.text for s, e in passage.highlights)


def test_scifact_slice_dense_top5_equal_and_hybrid_agrees(scifact):
    local, remote, questions = scifact
    assert remote.chunks.chunk_count == local.chunks.chunk_count > SLICE_DOCUMENTS
    dense_equal = [q for q in questions if top(remote, q, "dense") == top(local, q, "dense")]
    assert len(dense_equal) == len(questions), set(questions) - set(dense_equal)
    hybrid_equal = sum(top(remote, q, "hybrid") == top(local, q, "hybrid") for q in questions)
    assert hybrid_equal >= 0.95 * len(questions)
    # A source filter gives the same passages too.
    sources = sorted(local.sources())[:10]
    for question in questions[:10]:
        a = [(p.source, p.start) for p in local.ask(question, sources=sources, mode="dense").passages]
        assert [(p.source, p.start) for p in remote.ask(question, sources=sources, mode="dense").passages] == a


def test_cli_index_and_ask_from_milvus_lite(tmp_path):
    """`rag index --store milvus --milvus-uri X.db`, then `rag ask --json` (flags or RAG_STORE):
    the same JSON as from the default FAISS index, but for score values."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_ENCODER_CACHE"] = str(tmp_path / "encoders")  # one ONNX export for both indexes

    def rag(*args, **more_env):
        result = subprocess.run([sys.executable, "-m", "rag.cli", *map(str, args)], capture_output=True,
                                text=True, cwd=ROOT, env={**env, **more_env}, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    db = tmp_path / "m.db"
    rag("index", SEEDS, "--index-dir", tmp_path / "faiss", "--quiet")
    assert "indexed 5 documents" in rag("index", SEEDS, "--index-dir", tmp_path / "milvus", "--quiet",
                                        "--store", "milvus", "--milvus-uri", db)
    question = SEED_QUESTIONS[1]
    want = json.loads(rag("ask", "--json", question, "--index-dir", tmp_path / "faiss"))
    by_flags = json.loads(rag("ask", "--json", question, "--index-dir", tmp_path / "milvus",
                              "--store", "milvus", "--milvus-uri", db))
    by_env = json.loads(rag("ask", "--json", question, "--index-dir", tmp_path / "milvus",
                            RAG_STORE="milvus", RAG_MILVUS_URI=str(db)))

    def strip(data):
        return {**data, "confidence": None, "support": None,
                "passages": [{**p, "score": None, "confidence": None, "support": None}
                             for p in data["passages"]]}

    assert strip(by_flags) == strip(want) == strip(by_env)
    assert want["passages"][0]["source"] == "004_5d5c85c0ad26f8dd.txt"
