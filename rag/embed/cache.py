"""Embeddings kept between builds, keyed by model identity and text hash: a rebuild after one file
changed embeds only the passages and sentences whose text is new.

The cache lives beside the builds, in `<index_dir>/embeddings/<model key>.sqlite`, and is only
written while the build lock is held. It is content-addressed, so an entry is never wrong: a
build that fails leaves entries that the next build may use. After a successful build it is
pruned to what that build used, so it never grows past the index itself.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.embed.embedder import Embedder

FOLDER = "embeddings"
_BATCH = 500  # SQLite's host-parameter limit is 999 on old builds


def model_key(identity: dict) -> str:
    """A file-name-safe key for everything that decides a model's vectors."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class CachedEmbedder:
    """An Embedder that answers from the cache and embeds only texts it has not seen.

    `embedded` and `reused` count texts, for the build report.
    """

    def __init__(self, embedder: Embedder, index_dir: Path):
        self.inner = embedder
        self.identity = embedder.identity
        self.dimension = embedder.dimension
        self.max_tokens = embedder.max_tokens
        self.count_tokens = embedder.count_tokens
        self.tokens_add_up = getattr(embedder, "tokens_add_up", False)
        folder = Path(index_dir) / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{model_key(embedder.identity)}.sqlite"
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        self._used: set[bytes] = set()
        self.embedded = 0
        self.reused = 0

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """The vectors of `texts`: cached ones read back, the others embedded (once each) and stored."""
        keys = [text_key(t) for t in texts]
        found = self._lookup(set(keys))
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            first = {k: t for k, t in zip(reversed(keys), reversed(texts))}
            fresh = self.inner.embed([first[k] for k in missing], progress=progress)
            fresh = np.ascontiguousarray(fresh, dtype=np.float32)
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                ((k, v.tobytes()) for k, v in zip(missing, fresh)),
            )
            self._db.commit()
            found.update(zip(missing, fresh))
        self.embedded += len(missing)
        self.reused += len(texts) - len(missing)
        self._used.update(keys)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([found[k] for k in keys]).astype(np.float32)

    # -- by key, for vectors that are not a text's own (sentence vectors pooled from a passage) --

    def stored(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The vectors held under `keys` (those not held are absent); marks nothing as used."""
        return self._lookup(set(keys))

    def stored_texts(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors held for `texts` (embedded alone), by text."""
        keys = {text_key(t): t for t in texts}
        return {keys[k]: v for k, v in self._lookup(set(keys)).items()}

    def remember(self, keys: Sequence[bytes], vectors: Sequence[np.ndarray]) -> None:
        """Store `vectors` under `keys` and mark them used by this build."""
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
            ((k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)),
        )
        self._db.commit()
        self._used.update(keys)

    def remember_texts(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of `texts`, embedded by the caller (counted as embedded)."""
        self.remember([text_key(t) for t in texts], list(vectors))
        self.embedded += len(texts)

    def use(self, keys: Sequence[bytes]) -> None:
        self._used.update(keys)

    def use_texts(self, texts: Sequence[str]) -> None:
        """Mark the vectors of `texts` read back from the cache as used (counted as reused)."""
        self._used.update(text_key(t) for t in texts)
        self.reused += len(texts)

    def _lookup(self, keys: set[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        ordered = list(keys)
        for offset in range(0, len(ordered), _BATCH):
            batch = ordered[offset : offset + _BATCH]
            marks = ",".join("?" * len(batch))
            for key, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch):
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self.dimension,):
                    found[key] = vector
        return found

    def prune(self) -> None:
        """Keep only what this build used; drop caches of other models."""
        self._db.execute("CREATE TEMP TABLE used (key BLOB PRIMARY KEY)")
        self._db.executemany("INSERT OR IGNORE INTO used VALUES (?)", ((k,) for k in self._used))
        self._db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM used)")
        self._db.execute("DROP TABLE used")
        self._db.commit()
        for other in self.path.parent.glob("*.sqlite"):
            if other != self.path:
                other.unlink(missing_ok=True)

    def close(self) -> None:
        self._db.close()
