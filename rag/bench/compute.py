"""How close embedding comes to the machine's compute limit, for `rag bench`.

The limit is measured, not quoted: the float32 matrix-multiply rate this machine gives right now
(numpy's BLAS on all cores, on the shapes of a transformer layer), which a noisy, shared machine
changes from minute to minute; it is measured just after the embedding it is compared with. The
work is counted from the model's own config: per token, 2 FLOPs per weight of the encoder layers
(attention projections and the feed-forward block) plus the attention scores and their weighted
sum over the passage's tokens. Embedding tables, layer norms and activations are left out, so the
fraction is slightly understated. An int8 encoder may exceed 100%: its limit (VNNI integer
dot products) is higher than the float32 one measured here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def _shape(model_folder: Path) -> tuple[int, int, int] | None:
    """(hidden size, layers, weights per layer) of a BERT-like encoder, from its config.json
    (None when unreadable). Weights: Q, K, V, output; feed-forward in and out."""
    try:
        config = json.loads((Path(model_folder) / "config.json").read_text(encoding="utf-8"))
        hidden = int(config["hidden_size"])
        layers = int(config["num_hidden_layers"])
        inner = int(config.get("intermediate_size", 4 * hidden))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return hidden, layers, 4 * hidden * hidden + 2 * hidden * inner


def flops_per_token(model_folder: Path, tokens_per_text: float) -> float | None:
    """Forward-pass FLOPs per token of a BERT-like encoder (None when its config is unreadable)."""
    shape = _shape(model_folder)
    if shape is None:
        return None
    hidden, layers, weights = shape
    attention = 2 * tokens_per_text * hidden  # scores and weighted sum, per token
    return 2.0 * layers * (weights + attention)


def gemm_gflops(rows: int = 4096, hidden: int = 384, inner: int = 1536, seconds: float = 1.0) -> float:
    """float32 GFLOP/s of numpy's matrix multiply on a layer-shaped product (best of repeats)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, hidden), dtype=np.float32)
    b = rng.standard_normal((hidden, inner), dtype=np.float32)
    a @ b  # warm-up: thread pool, page faults
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        mark = time.perf_counter()
        a @ b
        best = max(best, 2.0 * rows * hidden * inner / (time.perf_counter() - mark))
    return best / 1e9


def work_flops(model_folder: Path, work: dict) -> float | None:
    """Useful forward-pass FLOPs of what an encoder ran (`OnnxEmbedder.work`: tokens and the sum of
    squared lengths, special tokens included, padding left out): per token 2 FLOPs per weight of
    the layers, plus per text 4 * hidden * tokens^2 per layer for the attention scores and sum."""
    shape = _shape(model_folder)
    if shape is None:
        return None
    hidden, layers, weights = shape
    return float(layers * (2 * weights * work["tokens"] + 4 * hidden * work["squared_tokens"]))


def work_efficiency(model_folder: Path, work: dict, seconds: float) -> dict | None:
    """Achieved useful GFLOP/s of an encoder's `work` done in `seconds`, against the float32
    GEMM rate measured just before and just after (`limits`) and the fraction of the higher one
    (the conservative reading on a machine whose load changes). Padding is not useful work, so
    it lowers the fraction; its share is printed beside it."""
    if not work.get("tokens") or seconds <= 0:
        return None
    flops = work_flops(model_folder, work)
    if flops is None:
        return None
    achieved = flops / seconds / 1e9
    limit = max(work.get("gemm_before", 0.0), gemm_gflops())
    return {
        "texts": work["texts"], "tokens": work["tokens"],
        "padding_share": round(1 - work["tokens"] / max(work["padded_tokens"], 1), 3),
        "achieved_gflops": round(achieved, 1),
        "fp32_gemm_gflops_now": round(limit, 1),
        "fraction_of_fp32_limit": round(achieved / limit, 3),
    }


def embedding_efficiency(model_folder: Path, tokens: int, texts: int, seconds: float) -> dict | None:
    """Achieved GFLOP/s of an embedding run and its fraction of the float32 limit measured now."""
    if not texts or seconds <= 0:
        return None
    per_token = flops_per_token(model_folder, tokens / texts)
    if per_token is None:
        return None
    achieved = tokens * per_token / seconds / 1e9
    limit = gemm_gflops()
    return {
        "gflop_per_text": round(per_token * tokens / texts / 1e9, 3),
        "achieved_gflops": round(achieved, 1),
        "fp32_gemm_gflops_now": round(limit, 1),
        "fraction_of_fp32_limit": round(achieved / limit, 3),
    }
