"""Run `rag index` with the keyword embedder, SIGKILLed (or held) at a named point of the build.

    python -m tests.killpoints POINT DOCS_DIR INDEX_DIR [GATE]

Used by tests/test_faults.py: a deterministic way to kill a build at each step, without a test
hook in the library. POINT "hold" instead waits, holding the build lock, until the file GATE
exists (it writes GATE + ".ready" first).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import rag.cli
import rag.embed.cache
import rag.store.build
import rag.store.chunkstore
import rag.store.faiss_store
import rag.store.lexical
import rag.store.manifest
from tests.conftest import KeywordEmbedder

VOCABULARY = ["apple", "banana", "cherry", "river", "mountain", "train"]


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after(owner, name: str, call: int = 1) -> None:
    """SIGKILL right after the `call`-th call of owner.name returns."""
    real, calls = getattr(owner, name), []

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == call:
            die()
        return result

    setattr(owner, name, wrapped)


def kill_before(owner, name: str, call: int = 1) -> None:
    """SIGKILL when owner.name is called for the `call`-th time, before it runs."""
    real, calls = getattr(owner, name), []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            die()
        return real(*args, **kwargs)

    setattr(owner, name, wrapped)


def hold(gate: Path) -> None:
    real = rag.store.chunkstore.write

    def wrapped(*args, **kwargs):
        Path(f"{gate}.ready").write_text("holding the lock\n")
        while not gate.exists():
            time.sleep(0.05)
        return real(*args, **kwargs)

    rag.store.chunkstore.write = wrapped


POINTS = {
    "loaded": lambda: kill_after(rag.store.build, "load_folder"),
    # The embedding step, entered by every build (even one whose texts are all in the cache).
    "embedding": lambda: kill_before(rag.embed.cache.CachedEmbedder, "embed"),
    "faiss-written": lambda: kill_after(rag.store.faiss_store.FaissStore, "save"),
    "lexical-written": lambda: kill_after(rag.store.lexical.LexicalIndex, "save"),
    "sqlite-written": lambda: kill_after(rag.store.chunkstore, "write"),
    "manifest-temporary": lambda: kill_before(os, "replace", call=1),
    "manifest-written": lambda: kill_before(os, "rename"),
    "current-temporary": lambda: kill_before(os, "replace", call=2),
    "switched": lambda: kill_before(rag.store.build.shutil, "rmtree"),
}


def main() -> int:
    point, docs, index = sys.argv[1], sys.argv[2], sys.argv[3]
    rag.store.build.load_embedder = lambda settings: KeywordEmbedder(VOCABULARY)
    if point == "hold":
        hold(Path(sys.argv[4]))
    else:
        POINTS[point]()
    return rag.cli.main(["index", docs, "--index-dir", index, "--force", "--quiet"])


if __name__ == "__main__":
    sys.exit(main())
