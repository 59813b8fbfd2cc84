"""Bad documents: every odd file gets a message naming it and what was done, and never stops the
others. Logic with the keyword embedder; the CLI as a user runs it."""

import builtins
import codecs
import io
import os
import random
from pathlib import Path

import pytest

from rag.config import ChunkingSettings, Settings
from rag.errors import DocumentError
from rag.index import open_index
from rag.ingest.chunking import Chunker
from rag.ingest.documents import Document, decode_document, load_folder
from rag.store.build import build_index
from tests.test_cli import rag

GOOD = "Fruit\n\nThe apple grows on trees. A banana is yellow and sweet.\n"
LATIN1 = "Café au lait. The river runs by the crème brûlée stand.\n"
UTF16 = "Grüße aus Köln. The mountain train leaves at noon.\n"


def bad_folder(root: Path) -> Path:
    """One good file beside one of each kind of bad file."""
    docs = root / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text(GOOD, encoding="utf-8")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "blank.md").write_text(" \n\t\n  \n", encoding="utf-8")
    rng = random.Random(7)
    (docs / "image.txt").write_bytes(bytes(rng.randrange(1, 256) for _ in range(1500)))  # no NUL
    (docs / "latin1.txt").write_bytes(LATIN1.encode("latin-1"))
    (docs / "utf16.txt").write_bytes(UTF16.encode("utf-16"))  # with its byte-order mark
    (docs / "nul.txt").write_bytes(b"The apple\x00 tree.\n")
    (docs / "big.txt").write_text("A cherry. " * 300, encoding="utf-8")  # 3,000 bytes
    (docs / "secret.txt").write_text("The banana is a secret.\n", encoding="utf-8")
    outside = root / "outside.txt"
    outside.write_text("Private river notes.\n", encoding="utf-8")
    (docs / "link.txt").symlink_to(outside)
    (docs / "dangling.txt").symlink_to(root / "nowhere.txt")
    return docs


def make_unreadable(monkeypatch):
    """Tests run as root, which reads a chmod 000 file anyway: make secret.txt fail like it."""
    real = io.open

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and Path(file).name == "secret.txt":
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", guarded_open)  # what pathlib calls
    monkeypatch.setattr(builtins, "open", guarded_open)


def test_every_bad_file_is_named_with_what_was_done(tmp_path, keyword_embedder, monkeypatch):
    docs = bad_folder(tmp_path)
    make_unreadable(monkeypatch)
    settings = Settings.from_env(
        environ={}, docs_dir=docs, index_dir=tmp_path / "index", model="keyword-test",
        max_document_mb=0.002,
    )
    said = []
    report = build_index(settings, embedder=keyword_embedder, say=said.append)
    messages = {line.split(" ", 1)[0]: line for line in said if not line.startswith("embedding")}

    assert messages["empty.txt"] == "empty.txt is empty: nothing to index"
    assert messages["blank.md"] == "blank.md contains only whitespace: nothing to index"
    assert messages["image.txt"].startswith("image.txt looks binary") and "not indexed" in messages["image.txt"]
    assert messages["nul.txt"].startswith("nul.txt contains NUL bytes (the first at byte 9)")
    assert messages["big.txt"].startswith("big.txt is 0.003 MB, over the limit of 0.002 MB")
    assert messages["secret.txt"] == "secret.txt cannot be read (Permission denied): not indexed"
    assert messages["link.txt"] == "link.txt is a link to a file outside the documents folder: not indexed"
    assert messages["dangling.txt"].startswith("dangling.txt is a link that cannot be followed")
    assert messages["good.txt"] == "good.txt indexed in 1 passage"
    assert messages["latin1.txt"] == (
        "latin1.txt is not valid UTF-8 (byte 3): decoded as cp1252, one character per byte; "
        "indexed in 1 passage"
    )
    assert messages["utf16.txt"] == "utf16.txt decoded as UTF-16 (byte-order mark); indexed in 1 passage"

    assert report.documents == 3 and len(report.skipped) == 8
    index = open_index(settings=settings, embedder=keyword_embedder)
    assert index.sources() == ["good.txt", "latin1.txt", "utf16.txt"]
    assert index.manifest.data["decoded"] == {"latin1.txt": "cp1252", "utf16.txt": "utf-16"}
    # Offsets are exact into the decoded text that is stored and shown.
    assert index.document_text("latin1.txt") == LATIN1
    assert index.document_text("utf16.txt") == UTF16
    for question, source in (("river", "latin1.txt"), ("mountain train", "utf16.txt")):
        top = index.ask(question, k=1).passages[0]
        assert top.source == source
        assert index.document_text(source)[top.start : top.end] == top.text
    top = index.ask("river", k=1, sources=["latin1.txt"]).passages[0]
    raw = (docs / "latin1.txt").read_bytes()  # one character per byte: offsets are byte offsets
    assert raw[top.start : top.end].decode("cp1252") == top.text
    # Skipped files are part of the fingerprint: a rebuild with nothing changed is not needed.
    assert not index.manifest.stale_reasons(settings.index)
    assert "secret.txt" not in index.sources() and "Private" not in repr(index.ask("river").to_dict())


def test_decoding_rules():
    def decoded(data):
        document, reason = decode_document("f.txt", data)
        return (document.encoding, document.text) if document else reason

    assert decoded("naïve\n".encode()) == ("utf-8", "naïve\n")
    assert decoded(codecs.BOM_UTF8 + b"Hi.") == ("utf-8", "\ufeffHi.")  # the BOM is character 0
    assert decoded(codecs.BOM_UTF8 + b" \n") == "contains only whitespace: nothing to index"
    assert decoded("Straße".encode("utf-32")) == ("utf-32", "Straße")
    assert decoded("Tschüß €5".encode("cp1252")) == ("cp1252", "Tschüß €5")
    assert decoded(b"caf\xe9 by the river, where the train stops \x81") == (
        "latin-1", "café by the river, where the train stops \x81")  # not cp1252
    assert decoded(codecs.BOM_UTF16_LE + b"\x00\xd8").startswith("starts with a UTF-16 byte-order mark")
    assert "UTF-16 without a byte-order mark" in decoded("plain".encode("utf-16-le"))
    assert decoded(b"\x1b[31mred\x1b[0m log line with colour codes, mostly text\n")[0] == "utf-8"


def test_a_folder_with_nothing_usable_is_a_document_error(tmp_path, keyword_embedder):
    empty = tmp_path / "empty"
    empty.mkdir()
    settings = Settings.from_env(environ={}, docs_dir=empty, index_dir=tmp_path / "i", model="keyword-test")
    with pytest.raises(DocumentError, match="no usable"):
        build_index(settings, embedder=keyword_embedder)
    with pytest.raises(DocumentError, match="does not exist"):
        load_folder(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DocumentError, match="is not a folder"):
        load_folder(tmp_path / "file.txt")


def test_one_megabyte_line_is_cut_into_exact_bounded_passages():
    rng = random.Random(3)
    words = ["apple", "banana", "river", "the", "of", "mountain", "Köln", "🍎"]
    line = " ".join(rng.choice(words) for _ in range(200_000))[:1_000_000]
    for text in (line, "ab" * 500_000):  # words, and one million characters without a space
        document = Document("line.txt", text, "sha")
        chunker = Chunker(ChunkingSettings(), lambda ts: [len(t.split()) for t in ts], 254)
        chunks = chunker.chunk(document)
        assert chunks[0].start == 0 and chunks[-1].end == len(text)
        sizes = chunker.count_tokens([text[c.start : c.end] for c in chunks])
        assert max(sizes) <= 160
        assert all(c.line_start == c.line_end == 1 for c in chunks)
        assert all(not text[a.end : b.start].strip() for a, b in zip(chunks, chunks[1:]))  # no gaps


def test_cli_indexes_the_good_and_names_the_bad(tmp_path):
    docs = bad_folder(tmp_path)
    os.chmod(docs / "secret.txt", 0)  # root still reads it: the message is tested above
    result = rag("index", docs, "--index-dir", tmp_path / "index", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "indexed 5 documents" in result.stdout  # good, latin1, utf16, big (under 10 MB), secret
    for name in ("empty.txt", "blank.md", "image.txt", "nul.txt", "link.txt", "dangling.txt"):
        assert f"{name} " in result.stderr
    assert "latin1.txt is not valid UTF-8 (byte 3): decoded as cp1252" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_exits_1_naming_each_file_when_nothing_is_usable(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "empty.txt").write_bytes(b"")
    (docs / "image.txt").write_bytes(bytes(range(256)) * 4)
    result = rag("index", docs, "--index-dir", tmp_path / "index")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "empty.txt is empty: nothing to index"
    assert lines[1].startswith("image.txt contains NUL bytes")
    assert lines[-1].startswith("rag: error: no usable documents")


def test_large_file_limit_is_a_setting_and_part_of_staleness(tiny_settings, keyword_embedder):
    (tiny_settings.docs_dir / "large.txt").write_text("The river. " * 200, encoding="utf-8")
    small = tiny_settings.with_overrides(max_document_mb=0.001)
    report = build_index(small, embedder=keyword_embedder)
    assert [s.source for s in report.skipped] == ["large.txt"]
    with pytest.raises(Exception, match="max_document_mb"):
        open_index(settings=tiny_settings, embedder=keyword_embedder)  # limit raised: stale
    build_index(tiny_settings, embedder=keyword_embedder)
    assert "large.txt" in open_index(settings=tiny_settings, embedder=keyword_embedder).sources()


def test_a_file_the_chunker_fails_on_does_not_stop_the_others(tiny_settings, keyword_embedder,
                                                             monkeypatch):
    real = Chunker.chunk

    def chunk(self, document, sentences=None):
        if document.source == "fruit.txt":
            raise ValueError("a bug")
        return real(self, document, sentences)

    monkeypatch.setattr(Chunker, "chunk", chunk)
    said = []
    report = build_index(tiny_settings, embedder=keyword_embedder, say=said.append)
    assert report.documents == 1 and [s.source for s in report.skipped] == ["fruit.txt"]
    assert "fruit.txt could not be split into passages (ValueError: a bug): not indexed" in said[0]
    index = open_index(settings=tiny_settings, embedder=keyword_embedder)
    assert index.sources() == ["travel.md"]
    top = index.ask("train river").passages[0]
    assert index.document_text("travel.md")[top.start : top.end] == top.text
