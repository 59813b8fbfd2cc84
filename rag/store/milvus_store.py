"""The Milvus backend of the vector-store interface (`rag.store.vectors.VectorStore`).

One collection per index, keyed by our passage ids (dense, 0..n-1, those of the chunk store):
each row holds the passage vector, its text, source, document, offsets and lines, and a digest of
all of them. A build syncs the collection to its passages by upsert and delete keyed by id, only
rows whose digest changed, so a re-index leaves the collection equal to a full build's.

Milvus Lite (`milvus_uri` a .db file) runs inside this process; a server or cluster is reached at
http://host:19530. pymilvus is imported here only (`pip install .[milvus]`).

The collection's properties say which build it holds (`rag.build`): set to "syncing <build>"
before a sync and to the build's name after, so an index whose collection was changed since,
or left half-synced by a failed build, is refused with the fix instead of answering from rows
of another build. Which collection a build writes and opens (two slots, used in turn, so the
previous build keeps answering) is `rag.store.milvus_collections`'s business.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from rag.errors import ConfigError, IndexCorruptError, IndexWriteError, StaleIndexError

INSTALL_HINT = "the Milvus store needs pymilvus and milvus-lite: pip install '.[milvus]'"
DESCRIPTOR = "milvus.json"
BATCH = 1000
"""Rows per upsert call (well under the gRPC message limit at 384 dimensions plus text)."""
CHECK_INTERVAL = 2.0
"""Seconds between checks that the collection still holds the open build (one describe call)."""
WINDOW = 16_384
"""Rows per query (Milvus caps offset + limit at 16,384)."""
MAX_ID = 1 << 40
TEXT_BYTES = 65_535
SOURCE_BYTES = 4_096
_INT_FIELDS = ("doc", "start", "end", "line_start", "line_end", "page", "page_end")  # page 0: no pages


def _pymilvus():
    # gRPC's C core prints keep-alive chatter between pymilvus and Milvus Lite ("GOAWAY ...
    # too_many_pings") on stderr; failures still reach us as exceptions. A user's setting wins.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        import pymilvus
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # its RPC errors become ours
    return pymilvus


def load(client, collection: str, attempts: int = 5) -> None:
    """Load a collection for search, waiting out Milvus Lite still writing a segment's index
    files after a flush: a load that comes too early fails with "file seems not fully written"
    (seen once under load, right after a flush); any other error is raised at once."""
    MilvusException = _pymilvus().MilvusException
    for attempt in range(attempts):
        try:
            client.load_collection(collection)
            return
        except MilvusException as exc:
            if "not fully written" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def is_lite(uri: str) -> bool:
    return "://" not in uri


def connect(uri: str, token: str = "", db: str = "", timeout: float = 10.0):
    """A MilvusClient for `uri`, or a clear error with the fix when it cannot be reached."""
    pymilvus = _pymilvus()
    options: dict[str, Any] = {"uri": uri, "timeout": timeout}
    if token:
        options["token"] = token
    if db:
        options["db_name"] = db
    if is_lite(uri):
        # Lite's in-process gRPC server logs a traceback for each call it does not implement
        # (AllocTimestamp, when pymilvus waits for an index); pymilvus then carries on without it.
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        parent = Path(uri).parent
        if not parent.is_dir():
            raise ConfigError(f"the Milvus Lite file {uri} cannot be made: {parent} is not a folder")
    try:
        return pymilvus.MilvusClient(**options)
    except pymilvus.MilvusException as exc:
        if is_lite(uri):
            raise ConfigError(
                f"cannot open the Milvus Lite file {uri} ({_message(exc)}): Milvus Lite lets one "
                "process at a time use a file; stop the other one (a running `rag serve` or "
                "`rag index --watch`), or use a Milvus server (--milvus-uri http://host:19530)"
            ) from None
        raise ConfigError(
            f"cannot reach the Milvus server at {uri} ({_message(exc)}): start it, or check "
            "--milvus-uri, the token (RAG_MILVUS_TOKEN) and the database"
        ) from None


def _message(exc: Exception) -> str:
    return getattr(exc, "message", "") or str(exc) or exc.__class__.__name__


def row_digest(values: dict[str, Any], model: str) -> str:
    """Identity of one row's content: equal digests need no upsert."""
    fields = [model] + [str(values[name]) for name in ("text", "source", *_INT_FIELDS)]
    return hashlib.sha1("\x1f".join(fields).encode("utf-8")).hexdigest()


class MilvusStore:
    """Inner-product search over one Milvus collection of unit vectors keyed by passage id."""

    def __init__(self, client, collection: str, dimension: int, uri: str, *,
                 index_type: str = "FLAT", consistency: str = "Strong", search_params: dict | None = None):
        self._client = client
        self._pymilvus = _pymilvus()
        self.collection = collection
        self.dimension = dimension
        self.uri = uri
        self.index_type = index_type
        self.consistency = consistency
        self._params = dict(search_params or {})
        self.build = ""
        """The build this store answers for; searches are refused once the collection holds another."""
        self._checked_at = 0.0

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def for_build(cls, client, collection: str, dimension: int, uri: str, *, index_type: str = "FLAT",
                  ef_construction: int = 200, docs_dir: str = "", model: str = "") -> "MilvusStore":
        """The collection made (or checked: same schema, same documents folder) for a build."""
        store = cls(client, collection, dimension, uri, index_type=index_type, consistency="Session")
        if client.has_collection(collection):
            store.check_schema(docs_dir)
            store._ensure_index(ef_construction)
        else:
            store._create(ef_construction, docs_dir, model)
        load(client, collection)
        return store

    def _index_params(self, ef_construction: int):
        params = {"FLAT": {}, "HNSW": {"M": 32, "efConstruction": ef_construction},
                  "IVF_FLAT": {"nlist": 1024}}[self.index_type]
        index = self._client.prepare_index_params()
        index.add_index(field_name="vector", index_type=self.index_type, metric_type="IP", params=params)
        return index, params

    def _ensure_index(self, ef_construction: int) -> None:
        """Rebuild the vector index of our collection when its type or parameters changed."""
        index, params = self._index_params(ef_construction)
        try:
            held = self._client.describe_index(self.collection, "vector")
        except self._pymilvus.MilvusException:
            held = {}
        same = held.get("index_type") == self.index_type and held.get("metric_type") == "IP" and all(
            str(held[key]) == str(value) for key, value in params.items() if key in held)  # Lite omits them
        if not same:
            self._client.release_collection(self.collection)
            if held:
                self._client.drop_index(self.collection, "vector")
            self._client.create_index(self.collection, index)

    def _schema(self):
        DataType = self._pymilvus.DataType
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_BYTES)
        for name in _INT_FIELDS:
            schema.add_field(name, DataType.INT64)
        schema.add_field("row_digest", DataType.VARCHAR, max_length=64)
        return schema

    def _create(self, ef_construction: int, docs_dir: str, model: str) -> None:
        index, _ = self._index_params(ef_construction)
        self._client.create_collection(
            self.collection, schema=self._schema(), index_params=index, consistency_level="Session",
            properties={"rag.docs_dir": docs_dir, "rag.model": model, "rag.build": ""},
        )

    def _expected_fields(self) -> dict[str, tuple[str, Any]]:
        DataType = self._pymilvus.DataType
        wanted = {"id": (DataType.INT64, None), "vector": (DataType.FLOAT_VECTOR, self.dimension),
                  "text": (DataType.VARCHAR, None), "source": (DataType.VARCHAR, None),
                  "row_digest": (DataType.VARCHAR, None)}
        wanted.update({name: (DataType.INT64, None) for name in _INT_FIELDS})
        return wanted

    def check_schema(self, docs_dir: str | None = None) -> None:
        """A clear error when the existing collection was not made by rag with these settings."""
        described = self._client.describe_collection(self.collection)
        found = {f["name"]: (f["type"], f.get("params", {}).get("dim")) for f in described["fields"]}
        wanted = self._expected_fields()
        fix = (f"choose another collection (--milvus-collection NAME) or drop this one "
               f"(pymilvus: MilvusClient({self.uri!r}).drop_collection({self.collection!r}))")
        if set(found) != set(wanted):
            raise ConfigError(
                f"the Milvus collection {self.collection!r} at {self.uri} has other fields "
                f"({', '.join(sorted(found))}) than a rag index ({', '.join(sorted(wanted))}): {fix}"
            )
        for name, (kind, dim) in wanted.items():
            if found[name][0] != kind or (dim is not None and int(found[name][1]) != dim):
                raise ConfigError(
                    f"the Milvus collection {self.collection!r} at {self.uri} stores {name} as "
                    f"{found[name][0].name}{f'({found[name][1]})' if found[name][1] else ''}, this index "
                    f"needs {kind.name}{f'({dim})' if dim else ''} (another model or schema): {fix}"
                )
        made_for = described.get("properties", {}).get("rag.docs_dir")
        if docs_dir is not None and made_for and made_for != docs_dir:
            raise ConfigError(
                f"the Milvus collection {self.collection!r} at {self.uri} holds the index of "
                f"{made_for}, not of {docs_dir}: {fix}"
            )

    def sync(self, rows: Sequence[dict[str, Any]], build: str) -> dict[str, int]:
        """Make the collection hold exactly `rows` (ids 0..n-1, in order): upsert the rows whose
        digest differs, delete the ids beyond; the counts of each, for the build report."""
        self._client.alter_collection_properties(self.collection, properties={"rag.build": f"syncing {build}"})
        held = self._digests()
        changed = [row for row in rows if held.get(row["id"]) != row["row_digest"]]
        for start in range(0, len(changed), BATCH):
            self._client.upsert(self.collection, [_plain(r) for r in changed[start : start + BATCH]])
        extra = sorted(set(held) - {row["id"] for row in rows})
        for start in range(0, len(extra), BATCH):
            self._client.delete(self.collection, ids=extra[start : start + BATCH])
        self._client.flush(self.collection)
        count = self.count("Session")
        if count != len(rows):
            raise IndexWriteError(
                f"the Milvus collection {self.collection!r} holds {count} rows after the sync, "
                f"{len(rows)} were written; run `rag index` again"
            )
        self._client.alter_collection_properties(self.collection, properties={"rag.build": build})
        return {"upserted": len(changed), "deleted": len(extra), "unchanged": len(rows) - len(changed)}

    def _digests(self) -> dict[int, str]:
        """id -> row digest of every row, read in windows of ids (our ids are small and dense;
        query_iterator needs a timestamp call Milvus Lite does not implement)."""
        total = self.count("Strong")
        held: dict[int, str] = {}
        start = 0
        while len(held) < total:
            reply = self._client.query(
                self.collection, filter=f"id >= {start} and id < {start + WINDOW}",
                output_fields=["id", "row_digest"], limit=WINDOW, consistency_level="Strong",
            )
            held.update((int(r["id"]), r["row_digest"]) for r in reply)
            start += WINDOW
            if start > MAX_ID and len(held) < total:
                raise IndexWriteError(
                    f"the Milvus collection {self.collection!r} holds ids rag never writes: "
                    "choose another collection (--milvus-collection NAME)"
                )
        return held

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Upsert bare vectors (no text or fields): for tests and benchmarks of the search alone."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of dimension {self.dimension}, got {vectors.shape}")
        rows = ({"id": int(i), "vector": v, "text": "", "source": "", "row_digest": "",
                 **{name: 0 for name in _INT_FIELDS}} for i, v in zip(ids, vectors))
        batch: list[dict] = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                self._client.upsert(self.collection, batch)
                batch = []
        if batch:
            self._client.upsert(self.collection, batch)
        self._client.flush(self.collection)

    # -- opening and searching -----------------------------------------------------------------

    @classmethod
    def open(cls, client, collection: str, uri: str, *, build: str, rows: int, dimension: int,
             index_type: str, consistency: str, search_params: dict) -> "MilvusStore":
        """The collection of an open build, checked: present, rag's schema, holding that build."""
        if not client.has_collection(collection):
            raise IndexCorruptError(
                f"the Milvus collection {collection!r} at {uri} is gone; rebuild with `rag index`"
            )
        store = cls(client, collection, dimension, uri, index_type=index_type, consistency=consistency,
                    search_params=search_params)
        store.check_schema()
        held = client.describe_collection(collection).get("properties", {}).get("rag.build", "")
        if held != build:
            state = f"an unfinished sync of {held[8:]}" if held.startswith("syncing ") else f"build {held!r}"
            raise IndexCorruptError(
                f"the Milvus collection {collection!r} at {uri} now holds {state}, not this index's "
                f"{build}: rebuild with `rag index --force`"
            )
        load(client, collection)
        store.build = build
        store._checked_at = time.monotonic()
        count = store.count("Strong")
        if count != rows:
            raise IndexCorruptError(
                f"the Milvus collection {collection!r} at {uri} holds {count} rows for {rows} "
                "passages; rebuild with `rag index --force`"
            )
        return store

    def tune(self, ef_search: int | None = None, nprobe: int | None = None, threads: int | None = None) -> None:
        """Search-time knobs of approximate indexes (threads are the server's business)."""
        if self.index_type == "HNSW" and ef_search is not None:
            self._params["ef"] = ef_search
        if self.index_type == "IVF_FLAT" and nprobe is not None:
            self._params["nprobe"] = nprobe

    def count(self, consistency: str | None = None) -> int:
        reply = self._client.query(self.collection, filter="", output_fields=["count(*)"],
                                   consistency_level=consistency or self.consistency)
        return int(reply[0]["count(*)"])

    def _check_build(self) -> None:
        """Every CHECK_INTERVAL s: refuse once another build (another process's re-index) has
        synced the collection, whose rows then no longer match this build's passages."""
        now = time.monotonic()
        if not self.build or now - self._checked_at < CHECK_INTERVAL:
            return
        held = self._client.describe_collection(self.collection).get("properties", {}).get("rag.build", "")
        if held != self.build:
            raise StaleIndexError(
                f"the Milvus collection {self.collection!r} at {self.uri} now holds "
                f"{held or 'nothing'}, not {self.build}: reopen the index (restart, or `rag index`)"
            )
        self._checked_at = now

    def search(self, queries, k, allowed=None):
        self._check_build()
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, int(k))
        params = dict(self._params)
        if "ef" in params:
            params["ef"] = max(params["ef"], k)
        options = {"filter": id_filter(allowed)} if allowed is not None else {}
        reply = self._client.search(
            self.collection, data=[q for q in queries], limit=k, output_fields=[],
            search_params={"metric_type": "IP", "params": params},
            consistency_level=self.consistency, **options,
        )
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, hits in enumerate(reply):
            # best first, ties by id (as FAISS's exact search breaks them)
            ranked = sorted(((float(h["distance"]), int(h["id"])) for h in hits), key=lambda p: (-p[0], p[1]))
            for column, (score, identifier) in enumerate(ranked[:k]):
                scores[row, column], ids[row, column] = score, identifier
        return scores, ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = [int(i) for i in ids]
        if not ids:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rows = {int(r["id"]): r["vector"] for r in self._client.get(
            self.collection, ids=ids, output_fields=["vector"], consistency_level=self.consistency)}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise IndexCorruptError(
                f"the Milvus collection {self.collection!r} at {self.uri} lacks passage {missing[0]}; "
                "rebuild with `rag index --force`"
            )
        return np.asarray([rows[i] for i in ids], dtype=np.float32)

    def passages(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The stored text and fields of passages, by id (what a query without SQLite would read)."""
        fields = ["id", "text", "source", *_INT_FIELDS]
        reply = self._client.get(self.collection, ids=[int(i) for i in ids], output_fields=fields,
                                 consistency_level=self.consistency)
        return {int(r["id"]): {name: r[name] for name in fields if name != "id"} for r in reply}

    def save(self, folder: Path) -> None:
        """Name the collection in the build folder (the rows themselves live in Milvus)."""
        description = {"uri": self.uri, "collection": self.collection, "index_type": self.index_type}
        (Path(folder) / DESCRIPTOR).write_text(json.dumps(description, indent=2), encoding="utf-8")

    def close(self) -> None:
        self._client.close()

    def __len__(self) -> int:
        return self.count()


def id_filter(allowed: np.ndarray) -> str:
    """A Milvus filter for a set of ids, as ranges: a document's passages have consecutive ids,
    so a filter on a few documents stays a few comparisons whatever their size."""
    ids = np.unique(np.asarray(allowed, dtype=np.int64))
    if len(ids) == 0:
        return "id < 0"
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    parts = []
    for run in np.split(ids, breaks):
        first, last = int(run[0]), int(run[-1])
        parts.append(f"id == {first}" if first == last else f"(id >= {first} and id <= {last})")
    return " or ".join(parts)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row as Milvus takes it, with the text checked against the field limits."""
    for name, limit in (("text", TEXT_BYTES), ("source", SOURCE_BYTES)):
        if len(row[name].encode("utf-8")) > limit:
            raise IndexWriteError(
                f"passage {row['id']} of {row['source'][:200]}: its {name} is over the {limit} bytes "
                "a Milvus text field holds; use a smaller chunking.max_tokens or a shorter path"
            )
    return row
