"""Present an evaluation report: a terminal table and a recall@k plot (PNG)."""

from __future__ import annotations

import math
from pathlib import Path

from rag.evaluate.runs import Report

_COLUMNS = {
    "questions": [
        ("recall@1", "R@1"), ("recall@3", "R@3"), ("recall@5", "R@5"), ("recall@10", "R@10"),
        ("mrr@10", "MRR@10"), ("ndcg@10", "nDCG@10"), ("highlight_hit", "hl-hit"),
        ("abstained_unanswerable", "abst-unans"), ("abstained_offtopic", "abst-off"),
        ("abstained_neartopic", "abst-near"), ("abstained_answerable", "abst-ans"),
        ("followup_recall@5", "fu-R@5"), ("followup_recall@5_no_history", "fu-R@5-nohist"),
        ("passage_chars", "chars"), ("latency_p50_ms", "p50ms"), ("latency_p95_ms", "p95ms"),
    ],
    "beir": [
        ("ndcg@10", "nDCG@10"), ("recall@10", "R@10"), ("recall@100", "R@100"), ("mrr@10", "MRR@10"),
        ("passage_chars", "chars"), ("latency_p50_ms", "p50ms"), ("latency_p95_ms", "p95ms"),
    ],
}


def format_table(report: Report) -> str:
    """One row per mode and split, aligned columns, then the abstention calibration."""
    columns = [(k, h) for k, h in _COLUMNS[report.kind] if any(k in s.metrics for s in report.summaries)]
    header = ["mode", "split", "n"] + [h for _, h in columns]
    rows = [
        [s.mode, s.split, str(s.questions)] + [_number(s.metrics.get(k)) for k, _ in columns]
        for s in report.summaries
    ]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = [f"{report.dataset}: {report.index['documents']} documents, "
             f"{report.index['passages']} passages"]
    for row in [header] + rows:
        lines.append("  ".join(cell.rjust(w) if i > 1 else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))))
    for mode, chosen in report.calibration.items():
        dev = chosen["dev"]
        support = chosen.get("score") == "support"
        others = "; ".join(
            f"{split}: abstains {v['abstained_unanswerable']:.0%} of unanswerable, "
            f"{v['abstained_answerable']:.0%} of answerable"
            for split, v in chosen.items() if split not in ("dev", "score")
        )
        in_use = report.index.get("support_threshold") if support else report.index["query"]["min_confidence"]
        lines.append(
            f"{'support threshold' if support else 'min_confidence'} calibrated on dev ({mode}): "
            f"{dev['threshold']:.3f} "
            f"(dev: abstains {dev['abstained_unanswerable']:.0%} of unanswerable, "
            f"{dev['abstained_answerable']:.0%} of answerable; {others}); "
            f"in use: {in_use}"
        )
    return "\n".join(lines)


def _number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.3f}"


def plot(report: Report, path: Path, split: str = "all") -> Path:
    """Recall@k against k, one line per mode, for one split (BEIR: its only split)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=120)
    for summary in report.summaries:
        if report.kind == "questions" and summary.split != split:
            continue
        ks = sorted(summary.curve)
        axes.plot(ks, [summary.curve[k] for k in ks], marker="o", label=summary.mode)
    axes.set_xlabel("k (passages)" if report.kind == "questions" else "k (documents)")
    axes.set_ylabel("recall@k")
    if report.kind == "beir":
        axes.set_xscale("log")
    axes.set_ylim(0, 1.02)
    axes.grid(True, alpha=0.3)
    axes.set_title(f"{report.dataset}: recall@k" + (f" ({split})" if report.kind == "questions" else ""))
    axes.legend()
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
