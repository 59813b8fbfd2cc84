"""The SQLite chunk store: document lengths are stored, and stores written before that still open."""

import sqlite3

from rag.ingest.chunking import Chunk
from rag.ingest.documents import Document
from rag.ingest.sentences import Sentence
from rag.store import chunkstore


def _write(folder):
    documents = [Document("a.txt", "Héllo wörld. Second one.", sha256="a" * 64),
                 Document("b.txt", "Plain text here.", sha256="b" * 64)]
    chunks = [(0, Chunk("a.txt", 0, 24, 1, 1)), (1, Chunk("b.txt", 0, 16, 1, 1))]
    sentences = [(0, Sentence(0, 12)), (0, Sentence(13, 24)), (1, Sentence(0, 16))]
    chunkstore.write(folder, documents, chunks, sentences)
    return documents


def test_document_lengths_are_characters_and_old_stores_without_the_column_still_open(tmp_path):
    documents = _write(tmp_path)
    opened = chunkstore.ChunkStore(tmp_path)
    assert [(d.source, d.characters, d.passages) for d in opened.documents] == [("a.txt", 24, 1), ("b.txt", 16, 1)]
    assert opened.documents[0].characters == len(documents[0].text) != len(documents[0].text.encode("utf-8"))
    connection = sqlite3.connect(tmp_path / chunkstore.FILE)
    connection.execute("ALTER TABLE documents DROP COLUMN characters")  # as written before the column
    connection.commit()
    connection.close()
    assert chunkstore.ChunkStore(tmp_path).documents == opened.documents
