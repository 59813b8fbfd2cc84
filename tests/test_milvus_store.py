"""The Milvus store on Milvus Lite (one .db per test), with the keyword embedder: builds, answers
equal to FAISS's, incremental syncs equal to full builds, and the errors a user meets."""

import json
import socket
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("milvus_lite", reason="Milvus Lite is not installed: pip install '.[milvus]'")

from rag.errors import ConfigError, IndexCorruptError, StaleIndexError  # noqa: E402
from rag.index import open_index  # noqa: E402
from rag.store.build import build_index  # noqa: E402
from rag.store.milvus_store import connect, id_filter  # noqa: E402
from tests.conftest import ROOT  # noqa: E402


def milvus(settings, db, **more):
    return settings.with_overrides(store="milvus", milvus_uri=str(db), **more)


def rows_of(settings):
    """Every row of the collection the current build answers from, by id: (digest, text, source, vector)."""
    from rag.store.milvus_collections import in_use

    client = connect(settings.index.milvus_uri)
    reply = client.query(in_use(settings.index_dir, settings.index.milvus_uri), filter="id >= 0", limit=10_000,
                         output_fields=["id", "row_digest", "text", "source", "vector"],
                         consistency_level="Strong")
    return {int(r["id"]): (r["row_digest"], r["text"], r["source"], tuple(np.round(r["vector"], 6)))
            for r in reply}


def shape(answer):
    """An answer's JSON without its score values (ranks, spans, text, highlights, answered)."""
    data = answer.to_dict()
    data.pop("confidence"), data.pop("support")
    for passage in data["passages"]:
        passage.pop("score"), passage.pop("confidence"), passage.pop("support")
    return data


def test_id_filter_is_ranges_of_consecutive_ids():
    assert id_filter(np.array([9, 3, 4, 5, 1])) == "id == 1 or (id >= 3 and id <= 5) or id == 9"
    assert id_filter(np.array([], dtype=np.int64)) == "id < 0"


def test_answers_equal_faiss_in_every_mode(tiny_settings, keyword_embedder, tmp_path):
    local = tiny_settings.with_overrides(index_dir=tmp_path / "faiss")
    remote = milvus(tiny_settings, tmp_path / "m.db")
    build_index(local, embedder=keyword_embedder)
    report = build_index(remote, embedder=keyword_embedder)
    assert (report.build / "milvus.json").is_file() and not (report.build / "dense.faiss").exists()
    a = open_index(settings=local, embedder=keyword_embedder)
    b = open_index(settings=remote, embedder=keyword_embedder)
    for question in ("banana", "the train and the river", "cherry spring apple"):
        for mode in ("dense", "hybrid", "lexical"):
            assert shape(b.ask(question, mode=mode)) == shape(a.ask(question, mode=mode))
    only = b.ask("apple river", sources=["travel.md"], mode="dense")
    assert {p.source for p in only.passages} == {"travel.md"}
    # The collection holds each passage's own text and place, as the chunk store does.
    stored = b.store.passages(range(b.chunks.chunk_count))
    for chunk in b.chunks.chunks(list(range(b.chunks.chunk_count))):
        row = stored[chunk.id]
        assert row["text"] == b.document_text(chunk.chunk.source)[chunk.chunk.start : chunk.chunk.end]
        assert (row["source"], row["start"], row["end"]) == (chunk.chunk.source, chunk.chunk.start, chunk.chunk.end)
        assert (row["page"], row["page_end"]) == (0, 0)  # text files have no pages
    a.close()
    b.close()


def test_a_paged_documents_rows_carry_the_pages_of_their_first_and_last_characters():
    from rag.ingest.chunking import Chunk
    from rag.ingest.documents import Document
    from rag.store.milvus_collections import passage_rows

    text = "Page one text.\fPage two text.\fPage three."
    pdf = Document("a.pdf", text, "0" * 64, kind="pdf", page_starts=(0, 15, 30))
    chunks = [(0, Chunk("a.pdf", 0, 14, 1, 1)), (0, Chunk("a.pdf", 15, 41, 1, 1))]
    rows = passage_rows([pdf], chunks, np.zeros((2, 3), dtype=np.float32), "m")
    assert [(r["page"], r["page_end"]) for r in rows] == [(1, 1), (2, 3)]
    assert rows[1]["text"] == text[15:41]


def test_reindex_syncs_only_changes_and_equals_a_full_build(tiny_settings, keyword_embedder, tmp_path):
    settings = milvus(tiny_settings, tmp_path / "m.db")
    slots = []

    def build(**options):
        report = build_index(settings, embedder=keyword_embedder, **options)
        slots.append(json.loads((report.build / "milvus.json").read_text())["collection"])
        return json.loads((report.build / "manifest.json").read_text())["milvus_sync"], report

    sync, first = build()
    passages = first.passages
    assert sync["upserted"] == passages
    # The next build fills the other slot (the first build's rows stay for its readers) ...
    assert build(force=True)[0]["upserted"] == passages
    # ... and the one after syncs the first slot, where nothing changed since.
    assert build(force=True)[0] == {"upserted": 0, "deleted": 0, "unchanged": passages}
    assert slots == [settings.index.milvus_collection, settings.index.milvus_collection + "_b",
                     settings.index.milvus_collection]

    # One document gone, one changed: only their rows move, and the result is a full build's.
    (settings.docs_dir / "fruit.txt").unlink()
    (settings.docs_dir / "travel.md").write_text("# Travel\n\nThe train climbs. The apple falls.\n")
    sync, changed = build()
    assert sync["deleted"] == passages - changed.passages and sync["upserted"] >= 1
    fresh = milvus(tiny_settings, tmp_path / "fresh.db", index_dir=tmp_path / "fresh-index")
    build_index(fresh, embedder=keyword_embedder)
    assert rows_of(settings) == rows_of(fresh)
    answer = open_index(settings=settings, embedder=keyword_embedder).ask("apple", mode="dense")
    assert [p.source for p in answer.passages] == ["travel.md"]


def test_store_settings_are_part_of_the_index(tiny_settings, keyword_embedder, tmp_path):
    settings = milvus(tiny_settings, tmp_path / "m.db")
    build_index(settings, embedder=keyword_embedder)
    with pytest.raises(StaleIndexError, match=r"store changed \(milvus -> faiss\)"):
        open_index(settings=tiny_settings, embedder=keyword_embedder)
    with pytest.raises(StaleIndexError, match="milvus_collection changed"):
        open_index(settings=milvus(tiny_settings, tmp_path / "m.db", milvus_collection="other"),
                   embedder=keyword_embedder)
    with pytest.raises(StaleIndexError, match="milvus_uri changed"):
        open_index(settings=milvus(tiny_settings, tmp_path / "n.db"), embedder=keyword_embedder)
    with pytest.raises(ConfigError, match="store milvus needs milvus_uri"):
        tiny_settings.with_overrides(store="milvus")


def test_collection_taken_over_by_another_build_is_refused(tiny_settings, keyword_embedder, tmp_path):
    settings = milvus(tiny_settings, tmp_path / "m.db")
    build_index(settings, embedder=keyword_embedder)
    already_open = open_index(settings=settings, embedder=keyword_embedder)
    other = settings.with_overrides(index_dir=tmp_path / "other-index")
    build_index(other, embedder=keyword_embedder)
    already_open.store._checked_at = 0.0  # as if CHECK_INTERVAL had passed
    with pytest.raises(StaleIndexError, match="now holds build-.*reopen the index"):
        already_open.ask("banana", mode="dense")
    with pytest.raises(IndexCorruptError, match=r"now holds build .*rag index --force"):
        open_index(settings=settings, embedder=keyword_embedder)
    # The index of another folder cannot sync into it at all.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.txt").write_text("A river and a train.\n")
    with pytest.raises(ConfigError, match="holds the index of .*--milvus-collection"):
        build_index(other.with_overrides(docs_dir=elsewhere), embedder=keyword_embedder)


def test_collection_with_another_schema_is_refused(tiny_settings, keyword_embedder, tmp_path):
    db = tmp_path / "m.db"
    client = connect(str(db))
    client.create_collection("rag_passages", dimension=3)  # a quick-setup collection: id + vector(3)
    with pytest.raises(ConfigError, match="other fields .*--milvus-collection NAME.*drop_collection"):
        build_index(milvus(tiny_settings, db), embedder=keyword_embedder)
    assert not (tiny_settings.index_dir / "CURRENT").exists()


def test_unreachable_server_fails_before_embedding(tiny_settings, keyword_embedder):
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = tiny_settings.with_overrides(store="milvus", milvus_uri=f"http://127.0.0.1:{port}")
    with pytest.raises(ConfigError, match=f"cannot reach the Milvus server at http://127.0.0.1:{port}.*start it"):
        build_index(settings, embedder=keyword_embedder)
    assert keyword_embedder.calls == 0


def test_lite_file_held_by_another_process_is_explained(tmp_path):
    db = tmp_path / "m.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pymilvus import MilvusClient; MilvusClient(sys.argv[1]); "
         "print('open', flush=True); sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(ConfigError, match="one process at a time"):
            connect(str(db))
    finally:
        holder.communicate("", timeout=30)


def test_bare_store_searches_like_the_interface_says(tmp_path):
    from rag.store.milvus_store import MilvusStore

    store = MilvusStore.for_build(connect(str(tmp_path / "m.db")), "bare", 3, str(tmp_path / "m.db"))
    vectors = np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 0, 1], [0.8, 0.6, 0]], dtype=np.float32)
    store.add(np.arange(4), vectors)
    scores, ids = store.search(np.array([[1, 0, 0]], dtype=np.float32), k=6)
    assert ids[0].tolist() == [0, 1, 3, 2, -1, -1]  # best first, the tie (1, 3) by id, -1 pads
    assert scores[0][:3].tolist() == pytest.approx([1.0, 0.8, 0.8])
    _, ids = store.search(np.array([[1, 0, 0]], dtype=np.float32), k=2, allowed=np.array([2, 3]))
    assert ids[0].tolist() == [3, 2]
    assert np.allclose(store.vectors(np.array([2, 1])), vectors[[2, 1]])
    assert len(store) == 4


def test_http_api_and_live_index_answer_from_milvus(tiny_settings, keyword_embedder, tmp_path):
    from fastapi.testclient import TestClient

    from rag.index import ensure_index
    from rag.live import LiveIndex
    from rag.serve.api import create_app

    local = ensure_index(tiny_settings.with_overrides(index_dir=tmp_path / "faiss"), embedder=keyword_embedder)
    settings = milvus(tiny_settings, tmp_path / "m.db")
    live = LiveIndex(ensure_index(settings, embedder=keyword_embedder))
    with TestClient(create_app(local)) as a, TestClient(create_app(live)) as b:
        for body in ({"question": "banana", "k": 2}, {"question": "river train", "mode": "dense"},
                     {"question": "apple", "sources": ["travel.md"]}):
            want, got = a.post("/api/ask", json=body), b.post("/api/ask", json=body)
            assert got.status_code == want.status_code == 200
            strip = lambda d: {**d, "confidence": None, "support": None, "passages": [  # noqa: E731
                {**p, "score": None, "confidence": None, "support": None} for p in d["passages"]]}
            assert strip(got.json()) == strip(want.json())
    # A rebuild after an edit (what `rag index --watch` and the page do in one process): the live
    # index follows the new build, whose rows the collection now holds.
    (settings.docs_dir / "travel.md").write_text("# Travel\n\nA banana boat on the river.\n")
    build_index(settings, embedder=keyword_embedder, force=False)
    answer = live.ask("banana boat", mode="dense", k=2)
    assert "A banana boat on the river." in [p.text.splitlines()[-1] for p in answer.passages]


def test_changed_milvus_index_type_rebuilds_the_collection_index(tiny_settings, keyword_embedder, tmp_path):
    settings = milvus(tiny_settings, tmp_path / "m.db")
    build_index(settings, embedder=keyword_embedder)
    hnsw = settings.with_overrides(milvus_index="HNSW")
    with pytest.raises(StaleIndexError, match="the dense index is now 'milvus HNSW'"):
        open_index(settings=hnsw, embedder=keyword_embedder)
    build_index(hnsw, embedder=keyword_embedder, force=False)
    from rag.store.milvus_collections import in_use

    client = connect(settings.index.milvus_uri)
    assert client.describe_index(in_use(settings.index_dir, settings.index.milvus_uri), "vector")["index_type"] == "HNSW"
    index = open_index(settings=hnsw, embedder=keyword_embedder)
    assert index.manifest.data["dense_index"] == "milvus HNSW"
    assert index.ask("banana", mode="dense").passages[0].source == "fruit.txt"


def test_a_failed_sync_leaves_the_previous_build_answering(tiny_settings, keyword_embedder, tmp_path, monkeypatch):
    from rag.errors import IndexWriteError
    from rag.store import milvus_store

    settings = milvus(tiny_settings, tmp_path / "m.db")
    build_index(settings, embedder=keyword_embedder)
    already_open = open_index(settings=settings, embedder=keyword_embedder)
    before = shape(already_open.ask("banana", mode="dense"))
    written = []

    def fail_half_way(row):  # the second batch of rows never reaches Milvus
        written.append(row["id"])
        if len(written) > 1:
            raise IndexWriteError("the server went away")
        return row

    monkeypatch.setattr(milvus_store, "BATCH", 1)
    monkeypatch.setattr(milvus_store, "_plain", fail_half_way)
    fruit = settings.docs_dir / "fruit.txt"
    kept = fruit.read_text()
    fruit.write_text("Fruit\n\nA banana boat.\n")
    with pytest.raises(IndexWriteError, match="went away"):
        build_index(settings, embedder=keyword_embedder)
    monkeypatch.undo()
    assert len(written) == 2  # the other slot is half-written
    already_open.store._checked_at = 0.0  # as if CHECK_INTERVAL had passed: it checks its collection
    assert shape(already_open.ask("banana", mode="dense")) == before
    fruit.write_text(kept)
    assert shape(open_index(settings=settings, embedder=keyword_embedder).ask("banana", mode="dense")) == before
    # the next build syncs the half-written slot again and answers from it
    fruit.write_text("Fruit\n\nA banana boat.\n")
    build_index(settings, embedder=keyword_embedder)
    assert open_index(settings=settings, embedder=keyword_embedder).ask("banana boat", mode="dense").passages


def test_a_load_right_after_a_flush_waits_for_the_index_files(monkeypatch):
    from pymilvus import MilvusException

    from rag.store import milvus_store

    monkeypatch.setattr(milvus_store.time, "sleep", lambda seconds: None)
    calls = []

    class Client:
        def __init__(self, failures, message):
            self.failures, self.message = failures, message

        def load_collection(self, name):
            calls.append(name)
            if len(calls) <= self.failures:
                raise MilvusException(message=self.message)

    milvus_store.load(Client(2, "Failed to read all data ... (file seems not fully written?)"), "c")
    assert calls == ["c", "c", "c"]
    calls.clear()
    with pytest.raises(MilvusException, match="collection not found"):
        milvus_store.load(Client(1, "collection not found"), "c")
    assert calls == ["c"]  # another error is not retried
