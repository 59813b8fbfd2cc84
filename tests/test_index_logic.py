"""Build, open, ask, staleness and atomic switching, with the keyword embedder (no real model)."""

import json

import pytest

from rag.errors import IndexLockedError, IndexMissingError, QueryError, StaleIndexError
from rag.index import ensure_index, open_index
from rag.store import manifest
from rag.store.build import build_index


def test_build_then_open_round_trips(tiny_settings, keyword_embedder):
    report = build_index(tiny_settings, embedder=keyword_embedder)
    assert report.documents == 2 and report.passages >= 2
    index = open_index(settings=tiny_settings, embedder=keyword_embedder)
    data = index.manifest.data
    assert data["model"]["name"] == "keyword-test"
    assert set(data["fingerprint"]) == {"fruit.txt", "travel.md"}
    assert data["settings"]["chunking"]["max_tokens"] == tiny_settings.index.chunking.max_tokens
    answer = index.ask("banana", k=2)
    top = answer.passages[0]
    assert top.source == "fruit.txt"
    assert top.text == (tiny_settings.docs_dir / "fruit.txt").read_text()[top.start : top.end]
    (start, end), = top.highlights
    assert index.document_text("fruit.txt")[start:end] == "A banana is yellow and sweet."


def test_source_filter_and_bad_queries(tiny_settings, keyword_embedder):
    build_index(tiny_settings, embedder=keyword_embedder)
    index = open_index(settings=tiny_settings, embedder=keyword_embedder)
    assert {p.source for p in index.ask("apple river", sources=["travel.md"]).passages} == {"travel.md"}
    with pytest.raises(QueryError, match="unknown source"):
        index.ask("apple", sources=["../../etc/passwd"])
    with pytest.raises(QueryError, match="empty"):
        index.ask(" \n\t ")
    with pytest.raises(QueryError, match="k must be"):
        index.ask("apple", k=0)
    with pytest.raises(QueryError, match="mode"):
        index.ask("apple", mode="fuzzy")


def test_missing_index_says_how_to_build(tiny_settings):
    with pytest.raises(IndexMissingError, match="rag index"):
        open_index(settings=tiny_settings)


def test_changed_document_makes_index_stale(tiny_settings, keyword_embedder, monkeypatch):
    build_index(tiny_settings, embedder=keyword_embedder)
    index = open_index(settings=tiny_settings, embedder=keyword_embedder)
    (tiny_settings.docs_dir / "fruit.txt").write_text("Only cherries now.\n", encoding="utf-8")
    monkeypatch.setattr("rag.store.freshness.FRESHNESS_INTERVAL", 0.0)
    with pytest.raises(StaleIndexError, match="fruit.txt changed"):
        index.ask("banana")
    with pytest.raises(StaleIndexError, match="rag index"):
        open_index(settings=tiny_settings, embedder=keyword_embedder)
    (tiny_settings.docs_dir / "new.txt").write_text("A new river.\n", encoding="utf-8")
    reasons = manifest.read(manifest.current_build(tiny_settings.index_dir)).stale_reasons(None)
    assert "new.txt is new" in reasons


def test_changed_settings_make_index_stale(tiny_settings, keyword_embedder):
    build_index(tiny_settings, embedder=keyword_embedder)
    changed = tiny_settings.with_overrides(**{"chunking.max_tokens": 99})
    with pytest.raises(StaleIndexError, match="chunking"):
        open_index(settings=changed, embedder=keyword_embedder)


def test_up_to_date_index_is_not_rebuilt(tiny_settings, keyword_embedder):
    first = build_index(tiny_settings, embedder=keyword_embedder)
    calls = keyword_embedder.calls
    again = build_index(tiny_settings, embedder=keyword_embedder, force=False)
    assert not again.rebuilt and again.build == first.build and keyword_embedder.calls == calls
    (tiny_settings.docs_dir / "travel.md").write_text("# Travel\n\nBy train.\n", encoding="utf-8")
    rebuilt = ensure_index(tiny_settings, embedder=keyword_embedder)
    assert rebuilt.build != first.build and not first.build.exists()


def test_failed_build_leaves_previous_index_usable(tiny_settings, keyword_embedder, monkeypatch):
    build_index(tiny_settings, embedder=keyword_embedder)
    before = manifest.current_build(tiny_settings.index_dir)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("rag.store.chunkstore.write", broken)
    with pytest.raises(RuntimeError):
        build_index(tiny_settings, embedder=keyword_embedder)
    assert manifest.current_build(tiny_settings.index_dir) == before
    assert not [p for p in tiny_settings.index_dir.iterdir() if p.name.endswith(".partial")]
    monkeypatch.undo()
    assert open_index(settings=tiny_settings, embedder=keyword_embedder).ask("apple").passages


def test_a_second_build_at_once_is_refused(tiny_settings, keyword_embedder):
    import fcntl

    tiny_settings.index_dir.mkdir(parents=True)
    with open(tiny_settings.index_dir / ".lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        with pytest.raises(IndexLockedError, match="another"):
            build_index(tiny_settings, embedder=keyword_embedder)


def test_manifest_from_another_format_is_refused(tiny_settings, keyword_embedder):
    from rag.errors import IndexCorruptError

    report = build_index(tiny_settings, embedder=keyword_embedder)
    path = report.build / "manifest.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format": 99}))
    with pytest.raises(IndexCorruptError, match="rebuild"):
        open_index(settings=tiny_settings, embedder=keyword_embedder)


def test_repeated_question_is_answered_from_the_question_cache(tiny_settings, keyword_embedder):
    from rag.index import ensure_index

    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    first = index.ask("Where does the train go?")
    calls = keyword_embedder.calls
    again = index.ask("Where does the train go?")
    assert keyword_embedder.calls == calls  # no model call for a repeated question
    assert again.to_dict() == first.to_dict()
    index.ask("Which fruit is yellow?")
    assert keyword_embedder.calls == calls + 1


def test_question_cache_can_be_disabled(tiny_settings, keyword_embedder):
    from rag.index import ensure_index

    index = ensure_index(tiny_settings.with_overrides(question_cache=0), embedder=keyword_embedder)
    index.ask("Where does the train go?")
    calls = keyword_embedder.calls
    index.ask("Where does the train go?")
    assert keyword_embedder.calls == calls + 1
