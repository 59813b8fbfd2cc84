"""Documents, passages and sentences of a built index, in SQLite: fetched by id, never loaded whole.

Passage ids are dense (0..n-1) and are the ids used by the vector store and the BM25 rows;
sentence ids likewise index the rows of the sentence-vector array.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rag.errors import IndexCorruptError
from rag.ingest.chunking import Chunk
from rag.ingest.documents import Document
from rag.ingest.sentences import Sentence, is_hard_wrapped, normalize

FILE = "chunks.sqlite"

_SCHEMA = """
CREATE TABLE documents (id INTEGER PRIMARY KEY, source TEXT UNIQUE NOT NULL,
                        sha256 TEXT NOT NULL, text TEXT NOT NULL, characters INTEGER);
CREATE TABLE chunks (id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, start INTEGER NOT NULL,
                     "end" INTEGER NOT NULL, line_start INTEGER NOT NULL, line_end INTEGER NOT NULL,
                     digest TEXT NOT NULL);
CREATE TABLE sentences (id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, start INTEGER NOT NULL,
                        "end" INTEGER NOT NULL, heading INTEGER NOT NULL);
CREATE TABLE formats (doc INTEGER PRIMARY KEY, kind TEXT NOT NULL, soft_wrapped INTEGER NOT NULL);
CREATE TABLE pages (doc INTEGER NOT NULL, page INTEGER NOT NULL, start INTEGER NOT NULL, boxes BLOB,
                    PRIMARY KEY (doc, page));
CREATE INDEX chunks_doc ON chunks (doc);
CREATE INDEX sentences_doc_start ON sentences (doc, start);
"""


@dataclass(frozen=True)
class StoredChunk:
    """A passage with its id and the document id it belongs to."""

    id: int
    doc: int
    chunk: Chunk
    digest: str
    """Hash of the passage's normalised text: equal digests are duplicate passages."""


@dataclass(frozen=True)
class StoredSentence:
    id: int
    start: int
    end: int
    heading: bool


@dataclass(frozen=True)
class DocumentInfo:
    """What a caller may know about an indexed document without its text."""

    source: str
    sha256: str
    characters: int
    passages: int


def text_digest(text: str) -> str:
    return hashlib.sha1(normalize(text).lower().encode("utf-8")).hexdigest()


def write(
    folder: Path,
    documents: Sequence[Document],
    chunks: Iterable[tuple[int, Chunk]],
    sentences: Iterable[tuple[int, Sentence]],
) -> None:
    """Write a new store; chunk and sentence ids are given in order from 0, paired with a doc index."""
    path = Path(folder) / FILE
    connection = sqlite3.connect(path)
    try:
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?)",
            ((i, d.source, d.sha256, d.text, len(d.text)) for i, d in enumerate(documents)),
        )
        texts = {i: d.text for i, d in enumerate(documents)}
        connection.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (i, doc, c.start, c.end, c.line_start, c.line_end, text_digest(texts[doc][c.start : c.end]))
                for i, (doc, c) in enumerate(chunks)
            ),
        )
        connection.executemany(
            "INSERT INTO formats VALUES (?, ?, ?)",
            ((i, d.kind, int(d.kind == "pdf" or is_hard_wrapped(d.text))) for i, d in enumerate(documents)),
        )
        connection.executemany(
            "INSERT INTO pages VALUES (?, ?, ?, ?)",
            (
                (i, page, start, d.boxes[page - 1] if len(d.boxes) >= page else None)
                for i, d in enumerate(documents)
                for page, start in enumerate(d.page_starts, start=1)
            ),
        )
        connection.executemany(
            "INSERT INTO sentences VALUES (?, ?, ?, ?, ?)",
            ((i, doc, s.start, s.end, int(s.heading)) for i, (doc, s) in enumerate(sentences)),
        )
        connection.commit()
    finally:
        connection.close()


class ChunkStore:
    """Read-only access to a written store; safe to share between threads."""

    def __init__(self, folder: Path):
        path = Path(folder) / FILE
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing; rebuild with `rag index`")
        self._lock = threading.Lock()
        self._path = path
        self._wrapped: frozenset[int] | None = None
        self._pages: dict[int, tuple[int, ...]] = {}
        try:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            rows = self._document_rows()
            self.chunk_count = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            self.sentence_count = self._db.execute("SELECT count(*) FROM sentences").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"{path} cannot be read ({exc}); rebuild with `rag index`") from None
        self._doc_ids = {source: doc for doc, source, *_ in rows}
        self._sources = {doc: source for doc, source, *_ in rows}
        self.documents = [DocumentInfo(source, sha, chars, n) for _, source, sha, chars, n in rows]

    def _document_rows(self) -> list[tuple]:
        """(id, source, sha256, characters, passages) of every document. The length is stored
        (computing it read every document's text: 6.7 s at 1M passages), and passages are counted
        in one pass over the chunks rather than joined per document (2.2 s -> 0.2 s at 1M)."""
        query = "SELECT id, source, sha256, {length} FROM documents ORDER BY id"
        try:
            documents = self._db.execute(query.format(length="characters")).fetchall()
        except sqlite3.OperationalError:  # a store written before the column existed
            documents = self._db.execute(query.format(length="length(text)")).fetchall()
        counts = dict(self._db.execute("SELECT doc, count(*) FROM chunks GROUP BY doc").fetchall())
        return [(*row, counts.get(row[0], 0)) for row in documents]

    def sources(self) -> list[str]:
        return [d.source for d in self.documents]

    def has_source(self, source: str) -> bool:
        return source in self._doc_ids

    def text(self, source: str) -> str:
        """The whole text of an indexed document, exactly as indexed."""
        row = self._query("SELECT text FROM documents WHERE id = ?", (self._doc_ids[source],))
        return row[0][0]

    def kind(self, source: str) -> str:
        """The format the document was read as (text, markdown, pdf, html, docx)."""
        rows = self._optional("SELECT kind FROM formats WHERE doc = ?", (self._doc_ids[source],))
        return rows[0][0] if rows else "text"

    def soft_wrapped(self, sources: Iterable[str]) -> set[str]:
        """The sources whose single line breaks are soft wraps inside paragraphs (a text file cut
        at ~80 characters, a PDF's lines): shown reflowed, offsets unchanged. The set of such
        documents is read once per open store (a build never changes)."""
        wrapped = self._wrapped
        if wrapped is None:  # two threads may both read it once: the same rows
            rows = self._optional("SELECT doc FROM formats WHERE soft_wrapped = 1", ())
            wrapped = self._wrapped = frozenset(doc for (doc,) in rows)
        return {s for s in sources if self._doc_ids[s] in wrapped}

    def page_starts(self, sources: Iterable[str]) -> dict[str, tuple[int, ...]]:
        """For each source, the offset of each page's first character; () without pages.
        Remembered per document once read (a query asks for the same few documents again)."""
        wanted = sorted({self._doc_ids[s] for s in sources})
        with self._lock:
            missing = [d for d in wanted if d not in self._pages]
        if missing:
            found: dict[int, tuple[int, ...]] = {d: () for d in missing}
            marks = ",".join("?" * len(missing))
            rows = self._optional(f"SELECT doc, start FROM pages WHERE doc IN ({marks}) ORDER BY doc, page", missing)
            for doc, start in rows:
                found[doc] += (start,)
            with self._lock:
                self._pages.update(found)
        with self._lock:
            return {self._sources[d]: self._pages[d] for d in wanted}

    def page_boxes(self, source: str, page: int) -> bytes | None:
        """Where each character of a PDF page is drawn (rag.ingest.readers.boxes), or None."""
        rows = self._optional("SELECT boxes FROM pages WHERE doc = ? AND page = ?",
                              (self._doc_ids[source], page))
        return rows[0][0] if rows else None

    def _optional(self, sql: str, params) -> list[tuple]:
        """A query on a table that stores written before formats had pages lack: no rows."""
        try:
            return self._query(sql, params)
        except IndexCorruptError:
            if self._has_table("pages"):
                raise
            return []

    def _has_table(self, name: str) -> bool:
        rows = self._query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return bool(rows)

    def texts(self, doc_ids: Iterable[int]) -> dict[int, str]:
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._query(f"SELECT id, text FROM documents WHERE id IN ({marks})", ids)
        return dict(rows)

    def span_texts(self, spans: Sequence[tuple[int, int, int]]) -> list[str]:
        """The text of each (doc, start, end) span, cut by SQLite: a query reads the passages it
        shows, not whole documents (which may be megabytes)."""
        if not spans:
            return []
        union = " UNION ALL ".join(
            ["SELECT ?, substr(text, ? + 1, ? - ?) FROM documents WHERE id = ?"] * len(spans)
        )
        params = [v for n, (doc, start, end) in enumerate(spans) for v in (n, start, end, start, doc)]
        found = dict(self._query(union, params))
        return [found[n] for n in range(len(spans))]

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        """The passages with these ids, in the order asked."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(
            f'SELECT id, doc, start, "end", line_start, line_end, digest FROM chunks '
            f"WHERE id IN ({marks})",
            ids,
        )
        by_id = {
            row[0]: StoredChunk(row[0], row[1], Chunk(self._sources[row[1]], *row[2:6]), row[6])
            for row in rows
        }
        return [by_id[i] for i in ids]

    def chunk_ids_of(self, sources: Iterable[str]) -> np.ndarray:
        docs = [self._doc_ids[s] for s in sources]
        marks = ",".join("?" * len(docs))
        rows = self._query(f"SELECT id FROM chunks WHERE doc IN ({marks}) ORDER BY id", docs)
        return np.array([r[0] for r in rows], dtype=np.int64)

    def sentence_chunks(self) -> list[tuple[int, ...]]:
        """For every sentence id, the ids of the passages that hold (part of) it."""
        rows = self._query(
            'SELECT s.id, c.id FROM sentences s JOIN chunks c ON c.doc = s.doc '
            'AND c.start < s."end" AND s.start < c."end" ORDER BY s.id, c.id',
            (),
        )
        holders: list[list[int]] = [[] for _ in range(self.sentence_count)]
        for sentence, chunk in rows:
            holders[sentence].append(chunk)
        return [tuple(h) for h in holders]

    def sentences_of(self, spans: Sequence[tuple[int, int, int]]) -> list[list[StoredSentence]]:
        """For each (doc, start, end) span, the sentences overlapping it, clipped to it, in order,
        read in one query."""
        if not spans:
            return []
        union = " UNION ALL ".join(
            ['SELECT ?, id, start, "end", heading FROM sentences WHERE doc = ? AND start < ? AND "end" > ?']
            * len(spans)
        )
        params = [v for n, (doc, start, end) in enumerate(spans) for v in (n, doc, end, start)]
        found: list[list[StoredSentence]] = [[] for _ in spans]
        for n, i, s, e, h in sorted(self._query(union, params), key=lambda row: (row[0], row[2])):
            _, start, end = spans[n]
            found[n].append(StoredSentence(i, max(s, start), min(e, end), bool(h)))
        return found

    def _query(self, sql: str, params) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:  # a page damaged after the store was opened
                raise IndexCorruptError(
                    f"{self._path} cannot be read ({exc}); rebuild with `rag index`"
                ) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()
