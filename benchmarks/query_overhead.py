"""Everything a question costs but the encoder, per mode: the median over our questions of each
one's best of 5 asks, with its vector already cached. Run it with two checkouts on one index, in
alternation, to compare code versions on a noisy machine (what the layout change was checked with):

    for i in 1 2 3; do for tree in /path/old /path/new; do
        PYTHONPATH=$tree python benchmarks/query_overhead.py index/; done; done
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "questions.jsonl"


def main(index_dir: str) -> dict:
    import rag
    from rag.index import open_index

    index = open_index(index_dir)
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    for question in questions:  # fills the question-vector cache: what follows is all but the encoder
        index.ask(question)
    figures = {"code": str(Path(rag.__file__).resolve().parents[1])}
    for mode in ("hybrid", "dense", "lexical"):
        best = []
        for question in questions:
            samples = []
            for _ in range(5):
                mark = time.perf_counter()
                index.ask(question, mode=mode)
                samples.append(time.perf_counter() - mark)
            best.append(min(samples))
        figures[f"{mode}_ms"] = round(statistics.median(best) * 1000, 3)
    return figures


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "index")))
