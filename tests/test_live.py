"""A long-running interface sees a new build without a restart."""

from rag.index import open_index
from rag.live import LiveIndex
from rag.store.build import build_index


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


def test_page_status_and_documents_list_follow_a_new_build(tiny_settings, keyword_embedder):
    """What the page's status line and Advanced documents list show after a hot swap (the page
    calls this on load, after each answer and every few seconds; the browser side is in
    test_browser_live.py)."""
    import gradio as gr

    from rag.serve import page as app

    build_index(tiny_settings, embedder=keyword_embedder)
    live = LiveIndex(open_index(settings=tiny_settings, embedder=keyword_embedder))
    first = live.build.name
    skip = (gr.skip(), gr.skip(), gr.skip())
    assert app.index_status(live, first, ["fruit.txt"]) == skip  # nothing new: nothing sent

    (tiny_settings.docs_dir / "sea.txt").write_text("The banana boat sails to the sea.\n", encoding="utf-8")
    build_index(tiny_settings, embedder=keyword_embedder, force=False)
    header, documents, shown = app.index_status(live, first, ["fruit.txt"])
    assert shown == live.build.name != first
    assert "Indexed: <b>3</b> documents" in header
    assert documents["choices"] == ["fruit.txt", "sea.txt", "travel.md"]
    assert documents["value"] == ["fruit.txt"]  # the reader's choice is kept
    assert app.index_status(live, shown, ["fruit.txt"]) == skip

    (tiny_settings.docs_dir / "fruit.txt").unlink()
    build_index(tiny_settings, embedder=keyword_embedder, force=False)
    header, documents, _ = app.index_status(live, shown, ["fruit.txt", "sea.txt"])
    assert "Indexed: <b>2</b> documents" in header
    assert documents["choices"] == ["sea.txt", "travel.md"] and documents["value"] == ["sea.txt"]


def test_a_plain_index_page_status_never_changes(tiny_settings, keyword_embedder):
    import gradio as gr

    from rag.serve import page as app

    build_index(tiny_settings, embedder=keyword_embedder)
    index = open_index(settings=tiny_settings, embedder=keyword_embedder)
    header, documents, shown = app.index_status(index, None, None)
    assert shown == index.build.name and documents["choices"] == ["fruit.txt", "travel.md"]
    assert app.index_status(index, shown, []) == (gr.skip(), gr.skip(), gr.skip())
