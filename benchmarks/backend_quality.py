"""Recall@5 and MRR@10 of each encoder backend on eval/questions.jsonl (answerable questions).

A question is found at rank r when the r-th passage is in an answer's file and contains the answer
text (whitespace-normalised). A stop-gap until the evaluation harness lands; run from the repo root:

    python benchmarks/backend_quality.py [--backends torch onnx onnx-int8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.build import load_embedder  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.index import ensure_index  # noqa: E402


def found_at(answer, expected) -> int | None:
    norm = lambda s: " ".join(s.split())  # noqa: E731
    for passage in answer.passages:
        if any(a["file"] == passage.source and norm(a["text"]) in norm(passage.text) for a in expected):
            return passage.rank
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    args = parser.parse_args()
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    questions = [q for q in questions if q["answers"]]
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for backend in args.backends:
            settings = Settings.from_env(
                environ={}, docs_dir=Path("seeds"), index_dir=Path(scratch) / backend, backend=backend,
                encoder_cache=Path(scratch) / "encoders",
            )
            index = ensure_index(settings, embedder=load_embedder(settings))
            for mode in ("hybrid", "dense"):
                ranks = [found_at(index.ask(q["question"], k=10, mode=mode, history=q.get("history", [])),
                                  q["answers"]) for q in questions]
                recall5 = sum(1 for r in ranks if r and r <= 5) / len(ranks)
                mrr10 = sum(1 / r for r in ranks if r) / len(ranks)
                results[f"{backend}/{mode}"] = {"recall@5": round(recall5, 4), "mrr@10": round(mrr10, 4)}
                print(backend, mode, results[f"{backend}/{mode}"], flush=True)
            index.close()
    print(json.dumps({"questions": len(questions), "results": results}, indent=2))


if __name__ == "__main__":
    main()
