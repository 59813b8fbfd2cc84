"""Milvus Lite alone at a size `rag bench --milvus` skips it at (above `LITE_UP_TO`): the same
synthetic vectors, questions, depth and timing as `rag.bench.milvus`, FLAT and HNSW.

    python benchmarks/lite_scale.py --size 1000000 --output benchmarks/results/milvus-lite-1m.json

One row per index type (JSON lines on standard output too); `wall_s` is the whole row, loading
and timing. 1M took 27 minutes on a quiet machine (2026-12-03). Not named milvus_lite.py: run
as a script, its folder comes first on sys.path, and the file would shadow that package.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.bench.milvus import exact_top, milvus_rows, synthetic  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--depth", type=int, default=100, help="hits per question (QuerySettings.candidates)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    vectors, queries = synthetic(args.size, args.questions)
    truth = exact_top(vectors, queries)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-milvus-lite-") as scratch:
        for index in ("FLAT", "HNSW"):
            started = time.perf_counter()
            row = milvus_rows(f"{scratch}/lite-{index}.db", vectors, queries, truth, args.depth, (index,),
                              "Milvus Lite")[0]
            rows.append({"size": args.size, **row, "wall_s": round(time.perf_counter() - started, 1)})
            print(json.dumps(rows[-1]), flush=True)
    if args.output:
        args.output.write_text(json.dumps({"depth": args.depth, "questions": args.questions, "rows": rows},
                                          indent=2) + "\n")


if __name__ == "__main__":
    main()
