"""Run by tests/test_milvus_server.py inside the server's network namespace: index the seeds into
FAISS (exact) and into the standalone Milvus server at URI, ask, re-index after a deletion, and
print what it saw as one JSON object (the test makes the assertions).

    python tests/milvus_server_client.py URI WORKDIR
"""

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.index import ensure_index, open_index  # noqa: E402
from rag.store.build import build_index, load_embedder  # noqa: E402

QUESTIONS = [
    "Who leads NATO?",
    "What did NATO's Secretary General say about North Korean troops in Ukraine?",
    "Which country is at war with two nations?",
    "Who is the president of Ukraine?",
    "What is a good banana bread recipe?",
]


def top(index, question):
    return [[p.source, p.start, p.end] for p in index.ask(question, k=5, mode="dense").passages]


def main(uri: str, work: Path) -> dict:
    docs = work / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    base = Settings.from_env(environ={}, docs_dir=docs, index_dir=work / "faiss", dense_index="Flat",
                             backend="torch", embed_sentences=False)
    embedder = load_embedder(base)
    local = ensure_index(base, embedder=embedder)
    shutil.copytree(work / "faiss" / "embeddings", work / "milvus" / "embeddings")
    remote_settings = base.with_overrides(index_dir=work / "milvus", store="milvus", milvus_uri=uri)
    remote = ensure_index(remote_settings, embedder=embedder)
    seen = {
        "uri": remote.store.uri,
        "dense_index": remote.manifest.data["dense_index"],
        "local": {q: top(local, q) for q in QUESTIONS},
        "milvus": {q: top(remote, q) for q in QUESTIONS},
        "json_keys": sorted(remote.ask(QUESTIONS[0]).to_dict()) == sorted(local.ask(QUESTIONS[0]).to_dict()),
    }
    # Delete the document that answers the first question, re-index, and ask at once: with the
    # default Strong consistency no deleted row may come back.
    gone = seen["milvus"][QUESTIONS[0]][0][0]
    # A build fills the other of the collection's two slots; the one after it syncs this one
    # again, so the re-index below deletes rows from a collection that held them.
    build_index(remote_settings, embedder=embedder, force=True)
    (docs / gone).unlink()
    report = build_index(remote_settings, embedder=embedder)
    after = open_index(settings=remote_settings, embedder=embedder)
    seen["deleted_source"] = gone
    seen["sync"] = json.loads((report.build / "manifest.json").read_text())["milvus_sync"]
    seen["after"] = top(after, QUESTIONS[0])
    seen["rows_after"] = after.store.count("Strong")
    seen["passages_after"] = after.chunks.chunk_count
    return seen


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]))))
