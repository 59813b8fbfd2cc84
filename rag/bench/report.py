"""What one `rag bench` run measured: the JSON record, and the plain-text table printed."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.bench.stats import PAUSE_S, peak_rss_mb


@dataclass
class Report:
    """Everything one `rag bench` run measured, as written to the JSON file."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    corpora: list[dict[str, Any]] = field(default_factory=list)
    startup: dict[str, Any] | None = None
    scale: dict[str, Any] | None = None
    scale_text: list[dict[str, Any]] | None = None
    peers: dict[str, Any] | None = None
    milvus: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings,
            "corpora": self.corpora,
            "startup": self.startup,
            "scale": self.scale,
            "scale_text": self.scale_text,
            "peers": self.peers,
            "milvus": self.milvus,
            "peak_rss_mb": peak_rss_mb(),
        }


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(report: Report, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def format_table(report: Report) -> str:
    """The figures as a plain-text table, one block per corpus."""
    rows: list[tuple[str, str]] = []
    for c in report.corpora:
        b = c["build_s"]
        rows += [
            (f"== {c['corpus']}", f"{c['documents']} documents, {c['passages']} passages, "
                                  f"{c['sentences']} sentences, {c['passage_tokens']} passage tokens"),
            ("model load", f"{c['model_load_s']:.2f} s ({c['model'].get('backend', 'torch')})"),
            ("build: chunking", f"{b.get('chunk', 0):.2f} s"),
            ("build: embed passages", f"{b.get('embed_passages', 0):.2f} s = "
                                      f"{c['embed_passages_per_s']} passages/s, {c['embed_tokens_per_s']} tokens/s"),
            *([("build: embed vs compute limit",
                f"{c['embed_compute']['achieved_gflops']} GFLOP/s = "
                f"{c['embed_compute']['fraction_of_fp32_limit']:.0%} of fp32 GEMM measured now "
                f"({c['embed_compute']['fp32_gemm_gflops_now']} GFLOP/s)"
                + (f"; all model work of the build, {c['embed_compute']['padding_share']:.0%} padding"
                   if "padding_share" in c["embed_compute"] else ""))] if c.get("embed_compute") else []),
            ("build: embed sentences", f"{b.get('embed_sentences', 0):.2f} s = {c['embed_sentences_per_s']} sentences/s"),
            ("build: writing", f"{b.get('write', 0):.2f} s"),
            ("build: total (no model load)", f"{b.get('total', 0):.2f} s"),
            ("re-run on unchanged documents", f"{c['rebuild_unchanged_s']:.2f} s, "
                                              f"{'rebuilt' if c['rebuild_unchanged_embedded'] else 'nothing embedded'}"),
        ]
        for mode, q in c["query"].items():
            rows.append((f"query {mode}", f"p50 {q['p50_ms']:.2f} ms  p95 {q['p95_ms']:.2f}  "
                                          f"p99 {q['p99_ms']:.2f}  (n={q['n']})"))
        for mode, q in c.get("query_http", {}).items():
            over = f"  {q['overhead_p50_ms']:+.2f} ms vs in-process p50" if "overhead_p50_ms" in q else ""
            if "overhead_paired_median_ms" in q:
                over += f" ({q['overhead_paired_median_ms']:+.2f} paired)"
            rows.append((f"HTTP {mode}", f"p50 {q['p50_ms']:.2f} ms  p95 {q['p95_ms']:.2f}  "
                                         f"p99 {q['p99_ms']:.2f}  (n={q['n']}){over}"))
        rows.append(("peak memory so far", f"{c['peak_rss_mb']:.0f} MB"))
    if report.startup:
        s = report.startup
        rows.append(("== start-up", "fresh processes"))
        rows.append(("rag --help", f"{s['help_process_s']:.2f} s process, imports torch: {s['help_imports_torch']}"))
        if "ask_process_s" in s:
            rows.append(("warm `rag ask`", f"{s['ask_process_s']:.2f} s process = open index {s['open_index_s']:.2f} "
                                           f"+ model load {s['model_load_s']:.2f} + answer {s['first_answer_s']:.2f}"
                                           f" (torch loaded: {s['torch_loaded']})"))
        if s.get("app_ready_s") is not None:
            rows.append(("app.py ready (model loaded)", f"{s['app_ready_s']:.2f} s"))
    if report.peers:
        p = report.peers
        rows.append(("== side by side", f"seeds, {p['questions']} questions, same model, in-process"))
        timed = [(name, q) for name, q in p.items() if isinstance(q, dict) and "latency" in q]
        for name, q in sorted(timed, key=lambda row: row[0].startswith("rag_")):  # the peers first
            quality = (f"  Recall@5 {q['recall@5']}  ({q['passages']} passages, {q['mean_chars']} chars)"
                       if "recall@5" in q else "  (through POST /api/ask)")
            rows.append((name, f"p50 {q['latency']['p50_ms']:.1f} ms  p95 {q['latency']['p95_ms']:.1f}{quality}"))
        ratio = p["speedup_vs_faster_peer_p50"]
        rows.append(("p50 speed-up vs the faster peer", ", ".join(f"{m} {x}x" for m, x in ratio.items())))
        paused = p.get("speedup_vs_faster_peer_p50_after_pause")
        if paused:  # the first questions again, each after a pause (benchmarks/peers.py)
            rows.append((f"the same, each after {PAUSE_S} s idle", ", ".join(f"{m} {x}x" for m, x in paused.items())))
    width = max((len(k) for k, _ in rows), default=0) + 2
    table = "\n".join(f"{k:<{width}}{v}" for k, v in rows)
    if report.scale:
        from rag.bench.scale import format_scale

        table = (table + "\n" if table else "") + format_scale(report.scale)
    if report.scale_text:
        from rag.bench.scale_text import format_text_scale

        table = (table + "\n" if table else "") + format_text_scale(report.scale_text)
    if report.milvus:
        from rag.bench.milvus import format_milvus

        table = (table + "\n" if table else "") + format_milvus(report.milvus)
    return table
