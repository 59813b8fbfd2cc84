"""Time cold builds of one folder from several checkouts, in alternation, and compare them.

Each build runs in a fresh child process (`nice -n 5`) with the checkout on PYTHONPATH, into a
fresh index folder: the embedding cache starts empty (every passage and sentence goes through the
model, as in a user's first `rag index`), while the ONNX export is shared and made before the
first timed round, so neither side pays it. Rounds alternate the checkouts (A B, then B A, ...)
so that the load of a shared machine touches both alike; medians and ratios are printed.

    python benchmarks/wiki_folder.py /tmp/wiki40
    python benchmarks/build_timing.py /tmp/wiki40 /work/main /work/wt-13 --rounds 5 --output out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
from pathlib import Path
from rag.config import Settings
from rag.store.build import build_index, load_embedder
docs, index_dir, encoders, overrides = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=index_dir, encoder_cache=encoders, **overrides)
if sys.argv[5] == "prepare":
    load_embedder(settings)
    raise SystemExit(0)
try:  # checkouts whose encoder counts its work: the fraction of the fp32 GEMM rate measured now
    from rag.bench.compute import gemm_gflops, work_efficiency
    from rag.embed.embedder import resolve_model
    before = gemm_gflops()
except ImportError:
    work_efficiency = None
mark = time.perf_counter()
embedder = load_embedder(settings)
report = build_index(settings, embedder=embedder, force=True)
wall = time.perf_counter() - mark
compute = None
if work_efficiency is not None and hasattr(embedder, "work"):
    seconds = report.seconds.get("embed_passages", 0) + report.seconds.get("embed_sentences", 0)
    compute = work_efficiency(Path(resolve_model(settings.index.model).location),
                              {**embedder.work, "gemm_before": before}, seconds)
import rag
print(json.dumps({"wall_s": wall, "seconds": report.seconds, "passages": report.passages,
                  "sentences": report.sentences, "embedded": report.embedded,
                  "rag": rag.__file__, "compute": compute}))
"""


def _spec(spec: str, common: dict) -> tuple[Path, dict]:
    path, _, sets = spec.partition("@")
    overrides = dict(common)
    for item in filter(None, sets.split(",")):
        overrides.update(_setting(item))
    return Path(path).resolve(), overrides


def _setting(item: str) -> dict:
    """KEY=VALUE as a setting: the value read as JSON (1, true, "x") where it is JSON, else the string."""
    key, _, value = item.partition("=")
    try:
        return {key: json.loads(value)}
    except json.JSONDecodeError:
        return {key: value}


def run_child(checkout: Path, overrides: dict, docs: Path, index_dir: Path, encoders: Path, what: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        ["nice", "-n", "5", sys.executable, "-c", CHILD, str(docs), str(index_dir), str(encoders),
         json.dumps(overrides), what],
        cwd=checkout, env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"build from {checkout} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]) if what == "build" else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", type=Path)
    parser.add_argument("checkouts", type=Path, nargs="+")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for every build, e.g. batch_size=8 (JSON values)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        overrides.update(_setting(item))
    checkouts = [str(c) for c in args.checkouts]  # PATH, or PATH@key=value,key=value: settings for that one
    runs: dict[str, list[dict]] = {c: [] for c in checkouts}
    with tempfile.TemporaryDirectory(prefix="rag-build-timing-") as scratch:
        scratch = Path(scratch)
        encoders = scratch / "encoders"
        for checkout in checkouts:
            run_child(*_spec(checkout, overrides), args.docs, scratch / "prepare", encoders, "prepare")
        for number in range(args.rounds):
            order = checkouts if number % 2 == 0 else list(reversed(checkouts))
            for checkout in order:
                index_dir = scratch / f"index-{number}"
                result = run_child(*_spec(checkout, overrides), args.docs, index_dir, encoders, "build")
                shutil.rmtree(index_dir)
                runs[checkout].append(result)
                compute = result.get("compute") or {}
                print(f"round {number + 1} {checkout}: {result['wall_s']:.1f} s "
                      + " ".join(f"{k} {v:.1f}" for k, v in result["seconds"].items())
                      + (f" | encoder {compute['achieved_gflops']} GFLOP/s = {compute['fraction_of_fp32_limit']:.0%}"
                         f" of fp32 GEMM {compute['fp32_gemm_gflops_now']}" if compute else ""), flush=True)
    summary = {}
    for checkout, results in runs.items():
        phases = sorted({k for r in results for k in r["seconds"]})
        summary[checkout] = {
            "wall_s_median": round(statistics.median(r["wall_s"] for r in results), 2),
            "wall_s": [round(r["wall_s"], 2) for r in results],
            "phases_median": {p: round(statistics.median(r["seconds"].get(p, 0.0) for r in results), 2)
                              for p in phases},
            "passages": results[0]["passages"], "sentences": results[0]["sentences"],
            "embedded": results[0]["embedded"],
            "compute": [r.get("compute") for r in results],
        }
    base = summary[checkouts[0]]["wall_s_median"]
    for checkout in checkouts:
        entry = summary[checkout]
        entry["speed_up_vs_first"] = round(base / entry["wall_s_median"], 2)
        pairs = [a["wall_s"] / b["wall_s"] for a, b in zip(runs[checkouts[0]], runs[checkout])]
        entry["speed_up_per_round_median"] = round(statistics.median(pairs), 2)
        fractions = [c["fraction_of_fp32_limit"] for c in entry["compute"] if c]
        entry["compute_fraction_median"] = round(statistics.median(fractions), 3) if fractions else None
        print(f"{checkout}: median {entry['wall_s_median']} s (x{entry['speed_up_vs_first']} vs "
              f"{checkouts[0]}; per-round ratio median x{entry['speed_up_per_round_median']}; encoder at "
              f"{entry['compute_fraction_median']} of fp32 GEMM), phases {entry['phases_median']}, {entry['passages']} passages, "
              f"{entry['sentences']} sentences, {entry['embedded']} texts through the model")
    if args.output:
        args.output.write_text(json.dumps({"docs": str(args.docs), "overrides": overrides,
                                           "rounds": args.rounds, "summary": summary, "runs": runs},
                                          indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
