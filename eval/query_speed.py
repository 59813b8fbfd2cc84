"""Per-question time of `Index.ask` on the seeds with question vectors cached (so the figure is
retrieval, ranking and answering, not the encoder): run it under two checkouts in one session and
compare medians.

    RAG_THREADS=1 PYTHONPATH=. python eval/query_speed.py index [rounds]
"""

import json
import statistics
import sys
import time
from pathlib import Path

from rag import open_index

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    index = open_index(sys.argv[1] if len(sys.argv) > 1 else "index")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    questions = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if line]
    for q in questions:  # warm: question vectors cached, lazy tables built
        index.ask(q["question"], history=q.get("history", []))
    times = []
    for _ in range(rounds):
        for q in questions:
            started = time.perf_counter()
            index.ask(q["question"], history=q.get("history", []))
            times.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"code": str(Path(__import__("rag").__file__).parent), "asks": len(times),
                      "p50_ms": round(statistics.median(times), 3),
                      "p90_ms": round(sorted(times)[int(0.9 * len(times))], 3)}))


if __name__ == "__main__":
    main()
