"""Hot swap at the library level: a LiveIndex follows new builds without a restart, and every
answer comes wholly from one build, under concurrent questions."""

import threading

import pytest

from rag.config import Settings
from rag.errors import StaleIndexError
from rag.index import open_index
from rag.live import LiveIndex
from rag.store import manifest
from rag.store.build import build_index
from tests.conftest import KeywordEmbedder

VOCABULARY = ["apple", "banana", "cherry", "river", "mountain", "train"]


def versioned_docs(folder, version):
    """Two documents whose every sentence carries the version word, at offsets that differ."""
    padding = " " * (0 if version == "alpha" else 7)
    (folder / "fruit.txt").write_text(
        f"Fruit {version}\n\n{padding}The apple {version} grows. A banana {version} is yellow.\n"
        f"Cherry {version} trees flower.\n", encoding="utf-8")
    (folder / "travel.txt").write_text(
        f"Travel {version}\n\nThe train {version} follows the river. It climbs the mountain "
        f"{version}.\n{padding}The apple {version} train.\n", encoding="utf-8")
    return {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}


@pytest.fixture
def live_setup(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=tmp_path / "index",
                                 model="keyword-test")
    return settings, KeywordEmbedder(VOCABULARY)


def version_of(answer, texts):
    """The one version every passage of the answer comes from (exact text at its offsets)."""
    versions = set()
    for passage in answer.passages:
        matching = {v for v, docs in texts.items() if docs[passage.source][passage.start : passage.end] == passage.text}
        assert matching, f"passage {passage.source}[{passage.start}:{passage.end}] matches no build"
        versions.add(next(iter(matching)) if len(matching) == 1 else "either")
        assert all(v in passage.text for v in matching)
    versions.discard("either")
    assert len(versions) <= 1, f"an answer mixed builds: {versions}"
    return versions.pop() if versions else None


def test_live_index_switches_to_a_new_build_without_restart(live_setup):
    settings, embedder = live_setup
    texts = {"alpha": versioned_docs(settings.docs_dir, "alpha")}
    build_index(settings, embedder=embedder)
    live = LiveIndex(open_index(settings=settings, embedder=embedder))
    assert version_of(live.ask("apple river", k=3), texts) == "alpha"

    texts["beta"] = versioned_docs(settings.docs_dir, "beta")  # edited, not yet rebuilt:
    assert version_of(live.ask("apple river", k=3), texts) == "alpha"  # still answers, from alpha
    assert live.sources() == ["fruit.txt", "travel.txt"]  # passes through to the current build
    build_index(settings, embedder=embedder)
    answer = live.ask("apple river", k=3)
    assert version_of(answer, texts) == "beta" and live.reload_error is None
    assert live.document_text("fruit.txt") == texts["beta"]["fruit.txt"]
    assert live.reload_if_changed() is False  # nothing new since


def test_a_damaged_or_incompatible_new_build_is_not_switched_to(live_setup):
    settings, embedder = live_setup
    texts = {"alpha": versioned_docs(settings.docs_dir, "alpha")}
    build_index(settings, embedder=embedder)
    live = LiveIndex(open_index(settings=settings, embedder=embedder))
    old = live.current.build

    versioned_docs(settings.docs_dir, "beta")
    report = build_index(settings, embedder=embedder, force=True)
    (report.build / "dense.faiss").write_bytes(b"")  # damaged after it became current
    assert version_of(live.ask("apple", k=2), texts) == "alpha"
    assert live.current.build == old and "dense.faiss" in str(live.reload_error)

    other = settings.with_overrides(**{"chunking.max_tokens": 99})
    build_index(other, embedder=embedder, force=True)
    assert live.reload_if_changed() is False and live.current.build == old
    assert isinstance(live.reload_error, StaleIndexError) and "restart" in str(live.reload_error)

    build_index(settings, embedder=embedder, force=True)  # a good build again: switched
    assert live.reload_if_changed() is True and live.reload_error is None


def test_every_answer_comes_wholly_from_one_build_while_builds_swap(live_setup):
    settings, embedder = live_setup
    texts = {"alpha": versioned_docs(settings.docs_dir, "alpha")}
    build_index(settings, embedder=embedder)
    live = LiveIndex(open_index(settings=settings, embedder=embedder))
    seen, errors, stop = [], [], threading.Event()

    def client():
        questions = ["apple river", "banana", "train mountain", "cherry apple"]
        count = 0
        while not stop.is_set() or count < 20:
            try:
                seen.append(version_of(live.ask(questions[count % 4], k=3), texts))
            except Exception as exc:  # any failure at all is a failed request
                errors.append(repr(exc))
            count += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for round_ in range(6):
            version = "beta" if round_ % 2 == 0 else "alpha"
            texts[version] = versioned_docs(settings.docs_dir, version)
            build_index(settings, embedder=embedder)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors[:3]
    assert set(seen) == {"alpha", "beta"} and len(seen) >= 80  # both builds answered
    assert version_of(live.ask("apple river", k=3), texts) == "alpha"  # the last build
    assert manifest.current_build(settings.index_dir) == live.current.build
