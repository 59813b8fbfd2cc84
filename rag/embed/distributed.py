"""Embedding spread over Ray workers with Ray Data (`rag index --workers N`, `pip install .[distributed]`).

Only the model calls move: reading, chunking, the embedding cache and writing stay in the building
process, in order. Each worker loads the model the settings name (the same backend, one text per
call as in-process), so a text's vector is the one the in-process build gives (within float
tolerance of the thread count). A local cluster is started for the build on loopback, with
`workers` CPUs, Ray's usage statistics off and a temporary folder of ours, and shut down after;
`ray_address` names a running cluster to use instead (started by someone else, left running).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np

from rag.embed.embedder import Embedder
from rag.errors import ConfigError

INSTALL_HINT = "embedding on workers needs Ray Data: pip install '.[distributed]' (ray[data])"
BLOCKS_PER_WORKER = 4
"""Texts are cut into this many blocks per worker, so a slow worker holds up little."""
BATCH = 64
"""Texts handed to one worker call (the worker's embedder still embeds them as it would in-process)."""


class _Encode:
    """One Ray Data actor: the model loaded once, then batches of {"i", "text"} -> {"i", "vector"}."""

    def __init__(self, load: Callable[[], Embedder]):
        self._embedder = load()

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        return {"i": batch["i"], "vector": self._embedder.embed(texts)}


class RayEmbedder:
    """An Embedder whose `embed` runs on Ray workers; tokens, identity and the rest come from the
    local embedder (the chunker counts tokens in-process, and the index records its identity)."""

    def __init__(self, local: Embedder, load: Callable[[], Embedder], workers: int, ray):
        self._local = local
        self._load = load
        self._workers = workers
        self._ray = ray
        self.identity = local.identity
        self.dimension = local.dimension
        self.max_tokens = local.max_tokens
        self.tokens_add_up = getattr(local, "tokens_add_up", False)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._local.count_tokens(texts)

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        data = self._ray.data
        items = [{"i": i, "text": t} for i, t in enumerate(texts)]
        blocks = max(1, min(len(items), self._workers * BLOCKS_PER_WORKER))
        dataset = data.from_items(items, override_num_blocks=blocks).map_batches(
            _Encode, fn_constructor_args=(self._load,), batch_size=BATCH, batch_format="numpy",
            compute=self._ray.data.ActorPoolStrategy(size=self._workers), num_cpus=1,
        )
        order, vectors = [], []
        for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
            order.append(np.asarray(batch["i"], dtype=np.int64))
            vectors.append(np.asarray(batch["vector"], dtype=np.float32))
        order_all, vectors_all = np.concatenate(order), np.concatenate(vectors)
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        result[order_all] = vectors_all
        if len(order_all) != len(texts) or len(np.unique(order_all)) != len(texts):
            raise RuntimeError(f"Ray returned {len(order_all)} vectors for {len(texts)} texts")
        return result


@contextmanager
def ray_embedder(local: Embedder, load: Callable[[], Embedder], workers: int,
                 address: str = "") -> Iterator[RayEmbedder]:
    """A RayEmbedder on a local cluster of `workers` CPUs started for the block (or on the cluster
    at `address`), shut down when the block ends."""
    if workers < 1 and not address:
        raise ConfigError(f"embedding on Ray needs at least one worker, got {workers}")
    # Before Ray is imported: bind loopback, send no usage statistics.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    if ray.is_initialized():
        raise ConfigError("Ray is already initialised in this process; build without --workers or in a new process")
    temporary = None
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        else:
            temporary = tempfile.mkdtemp(prefix="rag-ray-")  # short: Ray's socket paths are limited
            ray.init(num_cpus=workers, include_dashboard=False, _temp_dir=temporary,
                     _node_ip_address="127.0.0.1", log_to_driver=False, logging_level="ERROR")
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # per-run INFO lines on stderr
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        yield RayEmbedder(local, load, workers, ray)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
