"""Ranking variants tried against the committed pipeline on the tuning sets (docs/evaluation.md,
"Sentence windows, and pooled sentence vectors retrained"); nothing here is a default.

    RAG_TRAIN_DIR=/tmp/rag-train-w python eval/variants.py extract      # features + 2 window columns
    RAG_TRAIN_DIR=/tmp/rag-train-w python eval/variants.py windows      # the ranker with and without them
    RAG_TRAIN_DIR=/tmp/rag-train-w python eval/variants.py full         # choose + calibrate, committed features
    POOLED=1 RAG_TRAIN_DIR=/tmp/rag-train-pooled python eval/variants.py extract   # tuning indexes in *-pooled folders
    RAG_TRAIN_DIR=/tmp/rag-train-pooled python eval/variants.py full
    INT8_QUESTIONS=1 RAG_TRAIN_DIR=/tmp/rag-train-int8q python eval/variants.py extract   # questions in int8
        (the 2026-12-03 trial; the defaults since 2026-12-04, so train_ranker.py extract does the same)
    RAG_TRAIN_DIR=/tmp/rag-train-int8q python eval/variants.py full
    RAG_TRAIN_DIR=/tmp/rag-train-int8q python eval/variants.py write /tmp/int8models  # its models, for rag eval --set

`extract` is `eval/train_ranker.py extract` with two columns appended to every candidate's
features: the best cosine of the question with the normalised sum of 2, and of 3, consecutive
sentence vectors of the passage. With POOLED=1 every tuning index is built (if missing) in a
folder named like the usual one plus "-pooled" (the seeds' in index/seeds-pooled), with sentence
vectors pooled from their passage.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_ranker as tr  # noqa: E402

from rag.search import features as F  # noqa: E402

BASE = json.loads((tr.MODELS / "ranker.json").read_text(encoding="utf-8"))["meta"]["rrf"]
"""The RRF the rule chose, as the committed ranker records it."""
BASE_COLUMNS = len(F.BASE_FEATURES)


def windows(query, corpus, ids) -> np.ndarray:
    """(len(ids), 2): the question's best cosine with a window of 2 and of 3 consecutive sentences
    of each passage (the whole passage's sentences when it has fewer); -1 without sentence vectors."""
    out = np.full((len(ids), 2), -1.0, dtype=np.float32)
    if corpus.sentence_vectors is None or not len(ids):
        return out
    q = query.vector.astype(np.float32)
    for r, row in enumerate(corpus.chunk_sentence_matrix[np.asarray(ids, dtype=np.int64)]):
        members = row[row >= 0]
        if not len(members):
            continue
        v = np.asarray(corpus.sentence_vectors[members], dtype=np.float32)
        sums = np.cumsum(np.vstack([np.zeros((1, v.shape[1]), np.float32), v]), axis=0)
        for column, width in enumerate((2, 3)):
            w = min(width, len(members))
            m = sums[w:] - sums[:-w]
            out[r, column] = float(((m @ q) / np.maximum(np.linalg.norm(m, axis=1), 1e-9)).max())
    return out


def with_windows(query, corpus, lists, ids, terms=None) -> np.ndarray:
    rows = F.candidate_features(query, corpus, lists, ids, terms)
    return np.column_stack([rows, windows(query, corpus, ids)]).astype(np.float32)


def _settings_rewritten(rewrite) -> None:
    """Every `Settings.from_env` train_ranker makes (one per tuning index) passed through
    `rewrite(overrides)` first."""
    original = tr.Settings.from_env.__func__

    def from_env(cls, environ=None, **overrides):
        return original(cls, environ=environ, **rewrite(overrides))

    tr.Settings.from_env = classmethod(from_env)


def pooled(overrides: dict) -> dict:
    """The tuning index in a '-pooled' folder (the seeds' in index/seeds-pooled), built with
    pooled sentence vectors."""
    folder = Path(overrides["index_dir"])
    moved = folder / "seeds-pooled" if folder == tr.ROOT / "index" else Path(f"{folder}-pooled")
    return {**overrides, "index_dir": moved, "sentence_vectors": "pooled"}


def int8_questions(overrides: dict) -> dict:
    """Questions embedded by the int8 graph of the model over the same (float32) tuning index."""
    return {**overrides, "question_backend": "onnx-int8"}


def _columns(cols, load=tr.load) -> dict:
    """The extracted tuning sets with only these feature columns."""
    return {n: [{**r, "features": r["features"][:, cols]} for r in rows] for n, rows in load().items()}


@contextmanager
def committed_columns():
    """train_ranker's own functions, run on the committed feature columns only (no windows)."""
    loaded = tr.load
    tr.load = lambda folder=None: _columns(list(range(BASE_COLUMNS)), lambda: loaded(folder))
    try:
        yield
    finally:
        tr.load = loaded


def compare_windows() -> None:
    plain = list(range(BASE_COLUMNS))
    for name, cols in {"current features": plain, "+ window of 2": plain + [BASE_COLUMNS],
                       "+ window of 3": plain + [BASE_COLUMNS + 1], "+ both": plain + [BASE_COLUMNS, BASE_COLUMNS + 1]}.items():
        data = _columns(cols)
        cv, per = tr.cross_validated(data, BASE)
        held = tr.held_out(data, BASE)
        print(f"{name}: CV mean {cv:.4f} " + " ".join(f"{k} {v:.4f}" for k, v in per.items())
              + f" | leave-one-set-out mean {np.mean(list(held.values())):.4f} "
              + " ".join(f"{k} {v:.4f}" for k, v in held.items()), flush=True)


def full() -> None:
    """`choose` (RRF grid, learned ranker) on the committed feature columns, then the abstainer's
    held-out rates at the target `calibrate` picks."""
    with committed_columns():
        chosen = tr.choose()
        data = tr.load()
    ranker = tr.fit(data, chosen["rrf"]) if chosen["learned"] else None
    target, held = tr.calibrate(tr.abstention_rows(data, chosen["rrf"], ranker))
    print("abstainer target", target, json.dumps(held[str(target)]))


def write(folder: str) -> None:
    """train_ranker's `write` on these features (after `full`, which records the choice), into
    `folder` instead of rag/search/models/: models to try with `rag eval --set ranker=FOLDER/ranker.json
    --set abstainer=FOLDER/abstain.json` (and the variant's own settings)."""
    tr.MODELS = Path(folder)
    tr.MODELS.mkdir(parents=True, exist_ok=True)
    with committed_columns():
        tr.write()


if __name__ == "__main__":
    if os.environ.get("POOLED"):
        _settings_rewritten(pooled)
    if os.environ.get("INT8_QUESTIONS"):
        _settings_rewritten(int8_questions)
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "extract":
        tr.candidate_features = with_windows
        tr.extract(*sys.argv[2:])
    elif what == "windows":
        compare_windows()
    elif what == "full":
        full()
    elif what == "write" and len(sys.argv) > 2:
        write(sys.argv[2])
    else:
        raise SystemExit(__doc__)
