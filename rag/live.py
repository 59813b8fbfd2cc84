"""An index that follows its folder's CURRENT build: when `rag index` (or `rag index --watch`)
switches to a new build, the next question is answered from it, with the same loaded model and no
restart. Interfaces that stay up (the web app) hold one of these instead of a fixed `Index`."""

from __future__ import annotations

import threading
from pathlib import Path

from rag import manifest
from rag.index import Index


class LiveIndex:
    """Delegates to the `Index` of the current build, reopening it when the build changes."""

    def __init__(self, index: Index):
        self._index = index
        self._lock = threading.Lock()

    @property
    def current(self) -> Index:
        """The index of the build named in CURRENT now (the open one when unchanged or unreadable)."""
        with self._lock:
            index = self._index
            try:
                build = manifest.current_build(index.settings.index_dir)
            except Exception:  # mid-switch or removed: keep answering from the open build
                return index
            if Path(build).resolve() != Path(index.build).resolve():
                try:
                    built = manifest.read(build)
                except Exception:
                    return index
                if built.stale_reasons(index.settings.index, check_documents=False):
                    return index  # built with other settings (model, backend...): not ours to serve
                embedder = index._embedder  # already loaded (or None): never load the model twice
                self._index = Index(build, index.settings, embedder)
            return self._index

    def ask(self, *args, **kwargs):
        return self.current.ask(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.current, name)
