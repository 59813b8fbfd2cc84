"""`rag index --watch`: rebuilds when the folder changes, embedding only new text."""

from rag.store.watch import watch


def test_watch_rebuilds_after_an_edit_and_not_otherwise(tiny_settings, keyword_embedder):
    reports, cycles = [], iter(range(4))
    docs = tiny_settings.docs_dir

    def sleep(_seconds):
        if len(reports) == 1 and not (docs / "new.txt").exists():
            (docs / "new.txt").write_text("A cherry train crosses the river.\n", encoding="utf-8")

    watch(tiny_settings, embedder=keyword_embedder, interval=0, sleep=sleep,
          keep_going=lambda: next(cycles, None) is not None, on_build=reports.append)
    # cycle 1 builds; the edit happens while sleeping; cycle 2 rebuilds; cycles 3-4 see no change
    assert [r.rebuilt for r in reports] == [True, True]
    assert reports[1].documents == 3 and 0 < reports[1].embedded < reports[0].embedded
