"""The ONNX Runtime encoder: the same sentence-transformers model, exported once, run without torch.

A question is embedded by the `tokenizers` tokenizer and one ONNX Runtime call (mean pooling and
normalisation are inside the exported graph), which is several times faster than a PyTorch forward
pass through sentence-transformers on a small CPU, and loads without importing torch.

The export runs offline from the installed model folder, once per model and backend, into a cache
folder (by default `<index_dir>/encoders/`); it needs torch and transformers, which are already
dependencies. BERT-family models are exported with eager attention and then rewritten by ONNX
Runtime's transformer optimizer into its fused kernels (one Attention, SkipLayerNormalization and
BiasGelu node per layer instead of dozens of small ones): the same vectors, fewer kernel calls.
`onnx-int8` is that graph with dynamically quantised int8 weights, one scale per output channel
(per-tensor scales moved vectors ~5 degrees; per-channel ones ~0.6: docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.embed.embedder import ResolvedModel, length_batches, quiet_model_loading, resolve_model
from rag.embed.spans import TokenStates
from rag.errors import ModelError
from rag.ingest.sentences import normalize
from rag.ingest.wordpieces import WordPieceCounter

log = logging.getLogger(__name__)

EXPORT_FORMAT = 3
"""Bump when the exported graph changes, so old exports are not reused. 3: the graph also
outputs the token embeddings (for sentence vectors pooled from a passage's own forward pass)."""
ONNX_BACKENDS = ("onnx", "onnx-int8")
INT8_SCHEME = "dynamic int8, per output channel"
"""Recorded in the model identity of onnx-int8 indexes: vectors made by an earlier scheme (one
scale per tensor, until EXPORT_FORMAT 2) do not match questions embedded by this one."""
MODEL_FILE = "model.onnx"
TOKENS_OUTPUT = "token_embeddings"


def _model_config(folder: Path) -> tuple[int, int]:
    """(max_seq_length, dimension) of a sentence-transformers folder; refuses what the export
    does not reproduce (anything but mean pooling)."""
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.is_file():
        config = json.loads(pooling.read_text(encoding="utf-8"))
        if not config.get("pooling_mode_mean_tokens") or any(
            config.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                    "pooling_mode_mean_sqrt_len_tokens")
        ):
            raise ModelError(
                f"the ONNX backend supports mean-pooling models only; {folder} pools otherwise: "
                "use backend='torch' (RAG_BACKEND=torch)"
            )
    st_config = folder / "sentence_bert_config.json"
    max_seq = 512
    if st_config.is_file():
        max_seq = int(json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length") or 512)
    hidden = int(json.loads((folder / "config.json").read_text(encoding="utf-8"))["hidden_size"])
    return max_seq, hidden


def export_folder(resolved: ResolvedModel, backend: str, cache_dir: Path) -> Path:
    """Where the exported model for (model, backend) lives inside `cache_dir`."""
    key = json.dumps([EXPORT_FORMAT, resolved.name, resolved.package or resolved.location, backend])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in resolved.name.split("/")[-1])
    return Path(cache_dir) / f"{safe}-{backend}-{digest}"


def ensure_exported(resolved: ResolvedModel, backend: str, cache_dir: Path) -> Path:
    """The exported ONNX file, exported now (offline, from the model folder) if missing."""
    folder = export_folder(resolved, backend, cache_dir)
    if (folder / MODEL_FILE).is_file():
        return folder / MODEL_FILE
    source = Path(resolved.location)
    if not (source / "tokenizer.json").is_file():
        raise ModelError(
            f"the ONNX backend needs a local model folder with tokenizer.json; {resolved.location} "
            "is not one: use backend='torch' (RAG_BACKEND=torch)"
        )
    staging = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        log.warning("exporting %s to ONNX (%s) once, into %s", resolved.name, backend, folder)
        float32 = export_folder(resolved, "onnx", cache_dir) / MODEL_FILE
        if backend == "onnx-int8" and float32.is_file():
            fused = float32  # the same fused graph an export would make (no torch needed)
        else:
            _export(source, staging / "plain.onnx")
            fused = _fuse(source, staging / "plain.onnx", staging / "fp32.onnx")
        if backend == "onnx-int8":
            import onnx
            from onnxruntime.quantization import QuantType, quantize_dynamic

            logging.getLogger("root").setLevel(logging.ERROR)  # a pre-processing hint, not a problem
            quantize_dynamic(
                str(fused), str(staging / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True,
                # the fused nodes are in ONNX Runtime's own domain, which shape inference skips
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        else:
            fused.rename(staging / MODEL_FILE)
        for leftover in ("plain.onnx", "fp32.onnx"):
            (staging / leftover).unlink(missing_ok=True)
        (staging / "export.json").write_text(
            json.dumps({"format": EXPORT_FORMAT, "model": resolved.name, "package": resolved.package,
                        "backend": backend}, indent=2),
            encoding="utf-8",
        )
        try:
            os.rename(staging, folder)
        except OSError:  # another process finished the same export first: use theirs
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder / MODEL_FILE


def _export(source: Path, target: Path) -> None:
    """Transformer + mean pooling + L2 normalisation as one ONNX graph (legacy TorchScript exporter)."""
    import torch
    from transformers import AutoModel

    quiet_model_loading()
    try:  # eager attention exports as the plain MatMul/Softmax pattern the fusion recognises
        model = AutoModel.from_pretrained(str(source), local_files_only=True, attn_implementation="eager")
    except (TypeError, ValueError):
        model = AutoModel.from_pretrained(str(source), local_files_only=True)
    model = model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1), hidden

    example = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(model), (example, example), str(target),
            input_names=["input_ids", "attention_mask"], output_names=["embedding", TOKENS_OUTPUT],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"},
                          TOKENS_OUTPUT: axes},
            opset_version=17, dynamo=False,
        )


FUSABLE_MODEL_TYPES = ("bert",)
"""`config.json` model types whose graphs ONNX Runtime's BERT optimizer fuses (MiniLM is one)."""


def _fuse(source: Path, plain: Path, target: Path) -> Path:
    """The graph rewritten into ONNX Runtime's fused transformer kernels, saved at `target`; the
    plain graph when the model is not of a family the optimizer knows or the rewrite fails."""
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") not in FUSABLE_MODEL_TYPES:
        return plain
    try:
        from onnxruntime.transformers import optimizer

        optimized = optimizer.optimize_model(
            str(plain), model_type="bert", num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]),
        )
        optimized.save_model_to_file(str(target))
    except Exception as exc:  # an unusual variant of the family: the plain graph is still right
        log.warning("ONNX Runtime could not fuse %s (%s); using the plain graph", source, exc)
        return plain
    return target


class OnnxEmbedder:
    """A sentence-transformers model run by ONNX Runtime; inputs whitespace-normalised, outputs unit-norm."""

    def __init__(self, model: str, backend: str, cache_dir: Path, batch_size: int = 1, threads: int = 0,
                 spinning: bool = False, streams: int = 1):
        if backend not in ONNX_BACKENDS:
            raise ModelError(f"unknown ONNX backend {backend!r}; expected one of {', '.join(ONNX_BACKENDS)}")
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError:
            raise ModelError(
                "the ONNX backend needs onnxruntime and onnx: pip install onnxruntime onnx "
                "(or use backend='torch')"
            ) from None
        resolved = resolve_model(model)
        source = Path(resolved.location)
        if not source.is_dir():
            raise ModelError(
                f"the ONNX backend needs a local model folder; {model!r} is not one: use backend='torch'"
            )
        max_seq, self.dimension = _model_config(source)
        path = ensure_exported(resolved, backend, cache_dir)
        self._made = dict(model=model, cache_dir=cache_dir, batch_size=batch_size, threads=threads,
                          spinning=spinning, streams=streams)
        self._resolved = resolved
        self._siblings: dict[str, OnnxEmbedder] = {}
        self._siblings_lock = threading.Lock()
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle worker threads sleep unless asked (`Settings.encoder_spinning`): spinning ones
        # take the cores from other work on a shared machine (a question 2x slower beside two
        # busy processes) for ~1-2 ms saved on a quiet one.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        try:
            self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged export: say how to fix
            raise ModelError(f"cannot load {path} ({exc}); delete {path.parent} to export it again") from exc
        self._tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_seq)
        self._tokenizer.no_padding()  # batches are padded by `_run`, each to its own longest text
        self._pad = self._tokenizer.token_to_id("[PAD]") or 0
        counter = Tokenizer.from_file(str(source / "tokenizer.json"))
        counter.no_truncation()
        counter.no_padding()
        self._counter = WordPieceCounter(counter)
        self.tokens_add_up = self._counter.adds_up
        self.token_pooling = True  # only mean-pooling models are exported (`_model_config`)
        self.work = {"texts": 0, "tokens": 0, "padded_tokens": 0, "squared_tokens": 0}
        """What went through the model so far (special tokens included): `tokens` of the texts
        themselves, `padded_tokens` as computed (batches padded to their longest), and the sum of
        each text's tokens squared (attention); `rag bench` turns it into FLOPs."""
        self.batch_size = batch_size
        self.streams = streams
        """Model calls run at once when several texts are embedded (`Settings.encoder_streams`)."""
        self.max_tokens = max_seq - 2  # [CLS] and [SEP]
        self.identity = {
            "name": resolved.name,
            "location": resolved.location if not resolved.package else None,
            "package": resolved.package,
            "dimension": self.dimension,
            "max_seq_length": max_seq,
            "backend": backend,
        }
        if backend == "onnx-int8":
            self.identity["quantization"] = INT8_SCHEME

    def export_sibling(self, backend: str) -> None:
        """Export the same model for `backend` into this one's cache, if it is not there yet
        (a build does, so that the first question does not wait for it)."""
        ensure_exported(self._resolved, backend, self._made["cache_dir"])

    def sibling(self, backend: str) -> "OnnxEmbedder":
        """The same model run by another ONNX backend (int8 questions over float32 passages),
        made once per embedder and kept: every index opened with this embedder shares it."""
        if backend == self.identity["backend"]:
            return self
        with self._siblings_lock:
            if backend not in self._siblings:
                self._siblings[backend] = OnnxEmbedder(backend=backend, **self._made)
            return self._siblings[backend]

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Unit-norm float32 vectors, one row per text (batched by token length to limit padding)."""
        return self._run(texts, tokens=False)[0]

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenStates]]:
        """The vectors of `embed` and, from the same forward pass, each text's token embeddings
        (for sentence vectors pooled from their passage: `rag.embed.spans`)."""
        return self._run(texts, tokens=True)

    def _run(self, texts: Sequence[str], tokens: bool) -> tuple[np.ndarray, list[TokenStates]]:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        states: list[TokenStates | None] = [None] * len(texts)
        if not texts:
            return out, []
        cleaned = [normalize(t) for t in texts]
        encoded = self._tokenizer.encode_batch(cleaned)
        outputs = ["embedding", TOKENS_OUTPUT] if tokens else ["embedding"]

        def run(rows: list[int]) -> np.ndarray:
            """One model call; it writes only its own rows of `out` and `states`."""
            width = len(encoded[rows[0]].ids)
            ids = np.full((len(rows), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for line, row in enumerate(rows):
                n = len(encoded[row].ids)
                ids[line, :n] = encoded[row].ids
                mask[line, :n] = 1
            results = self._session.run(outputs, {"input_ids": ids, "attention_mask": mask})
            out[rows] = results[0]
            if tokens:
                for line, row in enumerate(rows):
                    e = encoded[row]
                    keep = np.flatnonzero(np.array(e.special_tokens_mask) == 0)
                    states[row] = TokenStates(
                        cleaned[row], np.array(e.offsets, dtype=np.int64)[keep].reshape(-1, 2),
                        np.ascontiguousarray(results[1][line, keep], dtype=np.float32),
                    )
            return mask

        batches = length_batches([len(e.ids) for e in encoded], self.batch_size)
        if self.streams > 1 and len(batches) > 1:
            # ONNX Runtime runs concurrent calls on one session (and releases the GIL), so each
            # stream takes the next batch: no thread waits on another inside a small matrix.
            with ThreadPoolExecutor(min(self.streams, len(batches)), thread_name_prefix="encoder") as pool:
                masks = list(pool.map(run, batches))
        else:
            masks = [run(rows) for rows in batches]
        for mask in masks:
            lengths = mask.sum(axis=1)
            self.work["texts"] += len(mask)
            self.work["tokens"] += int(lengths.sum())
            self.work["padded_tokens"] += int(mask.size)
            self.work["squared_tokens"] += int((lengths**2).sum())
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12), states  # type: ignore[return-value]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the special tokens."""
        return self._counter(texts)
