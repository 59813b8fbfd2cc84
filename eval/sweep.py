"""Compare settings on our question set, loading the model once: the numbers behind the defaults.

    python eval/sweep.py chunking            # passage size and overlap (each variant is a build)
    python eval/sweep.py fusion              # RRF constant and weights, on the default chunking

Prints markdown tables (dev, test, all) for docs/evaluation.md. Index builds go to
/tmp/rag-sweep/ (or $RAG_SWEEP_DIR). Latency is not measured here (`rag eval` measures it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.config import Settings  # noqa: E402
from rag.evaluate.indexes import eval_settings, open_question_index, source_reader  # noqa: E402
from rag.evaluate.questions import load_questions  # noqa: E402
from rag.evaluate.runs import evaluate_questions  # noqa: E402
from rag.store.build import load_embedder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
OUT = Path(os.environ.get("RAG_SWEEP_DIR", "/tmp/rag-sweep"))

CHUNKING = [
    {"max_tokens": 96, "overlap_tokens": 24},
    {"max_tokens": 128, "overlap_tokens": 32},
    {"max_tokens": 160, "overlap_tokens": 40},
    {"max_tokens": 160, "overlap_tokens": 0},
    {"max_tokens": 256, "overlap_tokens": 64},
]
FUSION = [
    {"rrf_k": 60},
    {"rrf_k": 60, "sentence_weight": 0.5},
    {"rrf_k": 60, "sentence_weight": 1.0},
    {"rrf_k": 20, "sentence_weight": 1.0},
    {"rrf_k": 20},
    {"rrf_k": 5},
    {"rrf_k": 60, "lexical_weight": 0.5},
    {"rrf_k": 60, "dense_weight": 0.5},
    {"rrf_k": 20, "lexical_weight": 0.7},
    {"rrf_k": 60, "dense_weight": 0.5, "sentence_weight": 0.5},
    {"rrf_k": 60, "dense_weight": 0.5, "sentence_weight": 1.0},
]
COLUMNS = ["recall@1", "recall@3", "recall@5", "recall@10", "mrr@10", "highlight_hit", "passage_chars"]


def row(label: str, report, mode: str = "hybrid") -> list[str]:
    cells = []
    for summary in report.summaries:
        if summary.mode != mode:
            continue
        m = summary.metrics
        cells.append(
            f"| {label} | {summary.split} | "
            + " | ".join(f"{m[c]:.0f}" if c == "passage_chars" else f"{m[c]:.3f}" for c in COLUMNS)
            + f" | {report.calibration.get(mode, {}).get('dev', {}).get('threshold', float('nan')):.3f} |"
        )
    return cells


def header(first: str) -> str:
    names = ["R@1", "R@3", "R@5", "R@10", "MRR@10", "hl-hit", "chars", "dev threshold"]
    return f"| {first} | split | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 2)


def run(variants: list[dict], kind: str, base: dict, embedder, modes=("hybrid",)) -> None:
    print(header(kind))
    only = os.environ.get("SWEEP_ONLY")  # e.g. "9,10": only these variants (0-based)
    if only:
        variants = [variants[int(i)] for i in only.split(",")]
    for variant in variants:
        overrides = {**base, **variant}
        chunking = {k: v for k, v in overrides.items() if k in ("max_tokens", "overlap_tokens")}
        name = "-".join(f"{k}{v}" for k, v in sorted(chunking.items())) or "default"
        settings = Settings.from_env(environ={}, index_dir=OUT / name, **overrides)
        index = open_question_index(eval_settings(settings, 10), embedder=embedder)
        questions = load_questions(QUESTIONS, source_reader(index))
        report = evaluate_questions(index, questions, modes, QUESTIONS.name, measure_latency=False)
        label = ", ".join(f"{k}={v}" for k, v in variant.items())
        for mode in modes:
            print("\n".join(row(label if len(modes) == 1 else f"{label} {mode}", report, mode)), flush=True)


def main(argv: list[str]) -> None:
    what = argv[0] if argv else "chunking"
    base = dict(arg.split("=", 1) for arg in argv[1:])
    base = {k: (int(v) if v.isdigit() else float(v)) for k, v in base.items()}
    embedder = load_embedder(Settings())
    if what == "chunking":
        run(CHUNKING, "chunking", base, embedder, modes=("hybrid", "dense", "lexical"))
    elif what == "fusion":
        run(FUSION, "fusion", base, embedder)
    else:
        raise SystemExit(f"unknown sweep {what!r}: chunking or fusion")


if __name__ == "__main__":
    main(sys.argv[1:])
