"""Whether a build still matches its documents folder, checked cheaply before each question:
a folder signature (sizes and mtimes) at most every FRESHNESS_INTERVAL seconds, and the
manifest's fingerprints only when that signature moved."""

from __future__ import annotations

import threading
import time

from rag.errors import StaleIndexError
from rag.ingest.documents import folder_signature
from rag.store import manifest

FRESHNESS_INTERVAL = 2.0
"""Seconds between checks that the documents on disk still match the index."""


class Freshness:
    """Notices, cheaply, when the documents on disk stop matching the index."""

    def __init__(self, built: manifest.Manifest):
        self._manifest = built
        self._docs_dir = built.docs_dir
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._signature = self._stat()

    def _stat(self) -> tuple | None:
        folder = self._docs_dir
        if folder is None or not folder.is_dir():
            return None
        return folder_signature(folder)

    def check(self) -> None:
        """Raise StaleIndexError when a document changed since the index was built."""
        if self._docs_dir is None:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at < FRESHNESS_INTERVAL:
                return
            self._checked_at = now
            signature = self._stat()
            if signature == self._signature and signature is not None:
                return
            reasons = manifest.compare_fingerprints(self._manifest.fingerprint, self._docs_dir)
            if reasons:
                self._checked_at = 0.0  # keep refusing until rebuilt
                raise StaleIndexError(
                    "the index is stale (" + "; ".join(reasons[:5]) + "): rebuild with `rag index`"
                )
            self._signature = signature
