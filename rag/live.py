"""An index that follows its folder: when a new build becomes current, the next question is
answered from it, without a restart. Each answer comes wholly from one build.

    live = LiveIndex(ensure_index(settings, check_freshness=False))   # the app, at start
    live.ask("Who leads NATO?")                 # notices a newer build first (one tiny read)

Switching is cheap for callers: the new build is opened by the one thread that noticed it while
the others keep answering from the old one; then one reference is replaced. The old build is
closed when the last answer using it is done (garbage collection), and its files, even if a
later build deletes them, stay readable until then.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from rag.errors import RagError
from rag.index import Index
from rag.search.answer import Answer
from rag.store import manifest

log = logging.getLogger(__name__)


class LiveIndex:
    """Holds the current Index of a folder and swaps in newer builds; safe to share between threads.

    Unlike a plain Index it keeps answering while documents change on disk (from the last complete
    build, whose stored text its offsets point into) until a new build replaces it.
    """

    def __init__(self, index: Index):
        self._index_dir = Path(index.settings.index_dir)
        self._seen = self._pointer()
        # An index that refuses stale questions would stop answering when documents change;
        # one opened without that check (ensure_index(..., check_freshness=False)) is used as is.
        self._index = index if not index.checks_freshness else index.reopen(index.build, check_freshness=False)
        self._lock = threading.Lock()
        self.reload_error: RagError | None = None
        """Why the newest build could not be switched to (None when the current one is in use)."""

    @property
    def current(self) -> Index:
        """The Index in use now; hold on to it to make several calls against one build."""
        return self._index

    def ask(self, question, **options) -> Answer:
        """Index.ask on the newest complete build (see Index.ask for the options)."""
        self.reload_if_changed(wait=False)
        return self._index.ask(question, **options)

    def reload_if_changed(self, wait: bool = True) -> bool:
        """Switch to the folder's current build if it changed; True when it switched.

        A build that cannot be opened is not switched to: the old one keeps answering and
        `reload_error` says why (retried when the CURRENT pointer changes again). With wait=False
        a call returns at once while another thread is switching.
        """
        if self._pointer() == self._seen:
            return False
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            seen = self._pointer()
            if seen == self._seen:
                return False
            self._seen = seen
            try:
                build = manifest.current_build(self._index_dir)
                if build == self._index.build:
                    return False
                fresh = self._index.reopen(build, check_freshness=False)
            except RagError as exc:
                self.reload_error = exc
                log.warning("still answering from %s: %s", self._index.build.name, exc)
                return False
            self._index, self.reload_error = fresh, None
            log.info("switched to %s", build.name)
            return True
        finally:
            self._lock.release()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        # Everything else (sources, document_text, describe, settings, build ...) from the current build.
        return getattr(self._index, name)

    def _pointer(self) -> bytes | None:
        """The CURRENT file's content: each build has a new, unique name (a tiny read per question)."""
        try:
            return (self._index_dir / manifest.CURRENT).read_bytes()
        except OSError:
            return None
