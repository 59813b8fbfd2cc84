"""A long-running interface sees a new build without a restart."""

from rag.build import build_index
from rag.index import open_index
from rag.live import LiveIndex


def test_live_index_follows_a_new_build_with_the_same_model(tiny_settings, keyword_embedder):
    build_index(tiny_settings, embedder=keyword_embedder)
    live = LiveIndex(open_index(settings=tiny_settings, embedder=keyword_embedder))
    first_build = live.build
    assert "sea.txt" not in live.sources()

    (tiny_settings.docs_dir / "sea.txt").write_text("The banana boat sails to the sea.\n", encoding="utf-8")
    build_index(tiny_settings, embedder=keyword_embedder, force=False)
    answer = live.ask("banana boat sea", sources=["sea.txt"])
    assert live.build != first_build and "sea.txt" in live.sources()
    assert answer.passages[0].source == "sea.txt"
    assert live.current._embedder is keyword_embedder  # the model was handed over, not reloaded


def test_live_index_ignores_a_build_made_with_other_settings(tiny_settings, keyword_embedder):
    build_index(tiny_settings, embedder=keyword_embedder)
    live = LiveIndex(open_index(settings=tiny_settings, embedder=keyword_embedder))
    first_build = live.build
    build_index(tiny_settings.with_overrides(embed_sentences=False), embedder=keyword_embedder)
    assert live.build == first_build  # another configuration's build is not served


def test_an_index_opened_without_freshness_check_is_used_as_is(tiny_settings, keyword_embedder):
    """The app's path: the build ensure_index opened is the one served, not opened a second time."""
    from rag.index import ensure_index

    index = ensure_index(tiny_settings, embedder=keyword_embedder, check_freshness=False)
    assert not index.checks_freshness
    assert LiveIndex(index).current is index
    checked = ensure_index(tiny_settings, embedder=keyword_embedder)
    assert LiveIndex(checked).current is not checked  # reopened without the check
