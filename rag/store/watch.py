"""Keep an index in step with its documents folder: poll cheaply (size and mtime of each file) and
rebuild incrementally when something changed. Each rebuild is an ordinary atomic build, so
readers always see a complete index; only new text is embedded (rag.embed.cache)."""

from __future__ import annotations

import time
from typing import Callable

from rag.config import Settings
from rag.embed.embedder import Embedder
from rag.errors import DocumentError
from rag.ingest.documents import folder_signature
from rag.store.build import BuildReport, build_index, load_embedder


def watch(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    interval: float = 2.0,
    keep_going: Callable[[], bool] = lambda: True,
    sleep: Callable[[float], None] = time.sleep,
    on_build: Callable[[BuildReport], None] = lambda report: None,
    say: Callable[[str], None] = lambda message: None,
) -> None:
    """Build now if needed, then rebuild whenever the folder changes, until `keep_going()` is false.
    The model is loaded once. A folder left with nothing to index is reported and waited out."""
    embedder = embedder or load_embedder(settings)
    seen = None
    while keep_going():
        signature = folder_signature(settings.docs_dir)
        if signature != seen:
            seen = signature
            try:
                report = build_index(settings, embedder=embedder, force=False, say=say)
            except DocumentError as exc:
                say(f"not indexed: {exc}")
            else:
                on_build(report)
        sleep(interval)
