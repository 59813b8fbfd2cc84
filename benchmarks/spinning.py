"""Spinning against sleeping ONNX Runtime encoder threads (`Settings.encoder_spinning`), on a quiet
machine and beside busy processes: p50/p90 of in-process hybrid asks of new questions.

    python benchmarks/spinning.py --busy 0,2,4 --rounds 3 --output benchmarks/results/spinning.json

Each round opens the seeds index (`index/`, built by `rag index`) in a fresh process per setting,
alternating, and asks the first 80 questions of eval/questions.jsonl with a suffix that makes
them new to that process (the question cache is off anyway). `--busy N` starts N processes
that spin in pure Python (`while True: pass`) for the round, as other work on a shared machine
would; they are stopped afterwards, whatever happens. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = 80


def child(spinning: bool, tag: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from rag.config import Settings
    from rag.index import open_index

    settings = Settings.from_env(environ={}).with_overrides(
        index_dir=ROOT / "index", encoder_spinning=spinning, **{"query.question_cache": 0})
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()][:QUESTIONS]
    index = open_index(settings=settings)
    index.ask("a warm-up question about nothing in particular")
    before = os.times()
    samples = []
    for question in questions:
        mark = time.perf_counter()
        index.ask(f"{question} {tag}")
        samples.append(time.perf_counter() - mark)
    after = os.times()
    cpu = (after.user + after.system) - (before.user + before.system)
    samples.sort()
    return {"spinning": spinning, "p50_ms": round(statistics.median(samples) * 1e3, 2),
            "p90_ms": round(samples[int(0.9 * len(samples))] * 1e3, 2),
            "cpu_ms_per_question": round(cpu / len(samples) * 1e3, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", default="0,2", help="busy processes beside, per condition (default 0,2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for busy in (int(n) for n in args.busy.split(",")):
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(1)
            for round_ in range(1, args.rounds + 1):
                for spinning in (True, False):
                    done = subprocess.run([sys.executable, __file__, "--child", str(int(spinning)),
                                           f"r{round_}b{busy}"], capture_output=True, text=True, check=True)
                    row = {"busy": busy, "round": round_, **json.loads(done.stdout.strip().splitlines()[-1])}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
    if args.output:
        args.output.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2] == "1", sys.argv[3])))
    else:
        main()
