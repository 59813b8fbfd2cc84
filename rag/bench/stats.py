"""Sample statistics for the benchmarks: timed calls, latency percentiles, paired overheads, peak memory."""

from __future__ import annotations

import math
import resource
import statistics
import time
from typing import Any, Callable, Iterable, Sequence

PAUSE_S = 0.2
"""Idle seconds before each question of the "after a pause" rows (`rag bench`'s
`hybrid_after_pause`, benchmarks/peers.py's `after_pause`): caches and cores go cold between
questions, as for a person asking now and then; every other row asks back to back."""
PAUSED_QUESTIONS = 30
"""How many questions those rows time."""


def time_each(call: Callable[[Any], Any], items: Iterable[Any], pause_s: float = 0.0) -> list[float]:
    """Seconds each `call(item)` took, one after another; with `pause_s`, idle that long before
    each call (not timed)."""
    samples = []
    for item in items:
        if pause_s:
            time.sleep(pause_s)
        mark = time.perf_counter()
        call(item)
        samples.append(time.perf_counter() - mark)
    return samples


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def paired_overhead(slower: Sequence[float], faster: Sequence[float]) -> dict[str, float]:
    """The extra time of `slower` over `faster`, measured close in time on the same questions:
    the difference of their p50s, and the median of the per-question differences (which a
    change of load during the run moves least)."""
    differences = sorted(s - f for s, f in zip(slower, faster))
    return {
        "overhead_p50_ms": round((statistics.median(slower) - statistics.median(faster)) * 1000, 3),
        "overhead_paired_median_ms": round(statistics.median(differences) * 1000, 3),
    }


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of `samples` (seconds) in milliseconds, nearest-rank."""
    ordered = sorted(samples)

    def at(p: float) -> float:
        index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
        return round(ordered[index] * 1000, 3)

    return {
        "p50_ms": at(50),
        "p95_ms": at(95),
        "p99_ms": at(99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "n": len(ordered),
    }



def rss_mb() -> float:
    """Current resident memory of this process, from /proc (0 where unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
