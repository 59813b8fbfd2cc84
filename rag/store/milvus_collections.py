"""Which Milvus collection a build writes and opens: two slots, used in turn.

`milvus_collection` names a pair: the collection of that name and `<name>_b`. A build syncs the
slot its index's current build does not use (upsert and delete keyed by passage id, from what
that slot held two builds ago: `MilvusStore.sync`), records it in its folder (`milvus.json`), and
is opened from there. So the current build's rows are never touched by the next build: its
readers keep answering while the next one syncs, and a build that fails or is killed half-way
leaves the previous build usable, as a FAISS build does. The price is two copies in Milvus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import RagError
from rag.store import manifest
from rag.store.milvus_store import DESCRIPTOR, MilvusStore, connect, row_digest

SECOND_SLOT = "_b"


def slots(name: str) -> tuple[str, str]:
    """The two collections of one `milvus_collection` name."""
    return name, name + SECOND_SLOT


def described(folder: Path) -> dict[str, Any]:
    """What a build folder's `milvus.json` says (uri, collection, index type); {} when it has none."""
    try:
        return json.loads((Path(folder) / DESCRIPTOR).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def in_use(index_dir: Path, uri: str) -> str | None:
    """The collection the current build of `index_dir` answers from at `uri` (None: no such build)."""
    try:
        current = described(manifest.current_build(index_dir))
    except RagError:
        return None
    return current.get("collection") if current.get("uri") == uri else None


def next_slot(index_dir: Path, name: str, uri: str) -> str:
    """The slot a new build writes: the one the current build does not answer from."""
    first, second = slots(name)
    return second if in_use(index_dir, uri) == first else first


def passage_rows(documents, chunks, vectors: np.ndarray, model: str) -> list[dict[str, Any]]:
    """One collection row per passage (ids in order from 0), its digest over text, fields and model."""
    rows = []
    for i, ((doc, chunk), vector) in enumerate(zip(chunks, vectors)):
        document = documents[doc]
        row = {"id": i, "vector": np.asarray(vector, dtype=np.float32), "text": document.text[chunk.start : chunk.end],
               "source": document.source, "doc": doc, "start": chunk.start, "end": chunk.end,
               "line_start": chunk.line_start, "line_end": chunk.line_end,
               "page": document.page_of(chunk.start) or 0, "page_end": document.page_of(chunk.end - 1) or 0}
        row["row_digest"] = row_digest(row, model)
        rows.append(row)
    return rows


def write_collection(settings, build: str, dimension: int, model: dict, documents, chunks,
                     vectors: np.ndarray) -> tuple[MilvusStore, dict[str, int]]:
    """Sync the free slot of the collection named in `settings.index` to a build's passages."""
    index = settings.index
    client = connect(index.milvus_uri, settings.milvus_token, index.milvus_db)
    model_name = json.dumps(model, sort_keys=True)
    docs_dir = str(Path(settings.docs_dir).resolve()) if settings.docs_dir else ""
    target = next_slot(settings.index_dir, index.milvus_collection, index.milvus_uri)
    for other in slots(index.milvus_collection):  # neither slot may hold another folder's index
        if other != target and client.has_collection(other):
            MilvusStore(client, other, dimension, index.milvus_uri).check_schema(docs_dir)
    store = MilvusStore.for_build(
        client, target, dimension, index.milvus_uri, index_type=index.milvus_index,
        ef_construction=index.hnsw_ef_construction, docs_dir=docs_dir, model=model_name,
    )
    counts = store.sync(passage_rows(documents, chunks, vectors, model_name), build)
    return store, counts


def open_collection(settings, folder: Path, recorded: dict[str, Any], rows: int, dimension: int) -> MilvusStore:
    """The collection of the build in `folder`, as its manifest (`recorded`: its settings) and its
    `milvus.json` record it (builds from before the slots name no slot: the plain name)."""
    uri = recorded["milvus_uri"]
    collection = described(folder).get("collection") or recorded["milvus_collection"]
    client = connect(uri, settings.milvus_token, recorded.get("milvus_db", ""))
    query = settings.query
    store = MilvusStore.open(
        client, collection, uri, build=Path(folder).name, rows=rows, dimension=dimension,
        index_type=recorded.get("milvus_index", "FLAT"), consistency=query.milvus_consistency,
        search_params={},
    )
    store.tune(ef_search=query.ef_search, nprobe=query.nprobe)
    return store
