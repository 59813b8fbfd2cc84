"""Measure retrieval through the core API (`Index.ask`), the same path every interface uses.

Two kinds of data:
- our question format (`rag.evaluate.questions`): a returned passage is relevant when its span covers an
  answer span; a question counts at the rank of its first relevant passage (one relevant item per
  question, so Recall@k is "an answer is in the top k"). Unanswerable questions measure abstention.
- BEIR (`rag.evaluate.beir`): a document counts at the rank of its best passage.

Ranking metrics come from ranx; this module only turns answers into runs and qrels.
"""

from __future__ import annotations

import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from rag.evaluate.questions import AnswerSpan, Question

RECALL_KS = (1, 3, 5, 10)
RANKING_METRICS = tuple(f"recall@{k}" for k in RECALL_KS) + ("mrr@10", "ndcg@10")
BEIR_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
BEIR_PASSAGES = 300
"""Passages asked per BEIR query: enough for 100 distinct documents when most have several."""
ANSWER = "<answer>"
"""The run key of a question's first relevant passage (its one relevant item in the qrels)."""


@dataclass(frozen=True)
class Outcome:
    """What one question got in one mode."""

    id: str
    split: str
    kind: str
    ranking: tuple[str, ...]
    """Run keys best first: ANSWER for the first relevant passage (our format) or document ids."""
    answerable: bool = True
    answered: bool = True
    confidence: float = 0.0
    """The score `answered` was decided by (see `_decision`)."""
    decided_by: str = "confidence"
    """"support" (the calibrated abstainer's probability) or "confidence" (the cosine)."""
    highlight_hit: bool = False
    seconds: float = 0.0
    passage_chars: tuple[int, ...] = ()
    used_history: bool = False
    history: bool = False
    """The question has a history (a follow-up)."""
    rank_without_history: int | None = None
    """For a follow-up: the rank of its answer when asked without the history."""

    @property
    def rank(self) -> int | None:
        return self.ranking.index(ANSWER) + 1 if ANSWER in self.ranking else None


@dataclass(frozen=True)
class Summary:
    """Aggregate figures of one mode over one group of questions."""

    mode: str
    split: str
    questions: int
    metrics: dict[str, float] = field(default_factory=dict)
    curve: dict[int, float] = field(default_factory=dict)
    """Recall@k for k = 1..depth: the plot."""

    def to_dict(self) -> dict:
        return {"mode": self.mode, "split": self.split, "questions": self.questions,
                "metrics": {k: round(float(v), 4) for k, v in self.metrics.items()},
                "curve": {str(k): round(float(v), 4) for k, v in self.curve.items()}}


# -- running ------------------------------------------------------------------------------------


def run_questions(
    index, questions: Sequence[Question], mode: str, depth: int = 10, use_history: bool = True,
    measure_latency: bool = True,
) -> list[Outcome]:
    """Ask every question at the index's own k (what a user sees), then deeper for Recall@depth.

    Ranks 1..k come from the user's answer; ranks k+1..depth from the deeper one, because a deeper
    answer can merge later passages into the first ones and so is not a prefix of the user's.
    The user's ask is timed with the question embedded afresh (latency includes the model).
    """
    k = index.settings.query.k
    embedder = index.embedder
    outcomes = []
    for q in questions:
        history = q.history if use_history else ()
        fresh = embedder.uncached() if measure_latency and hasattr(embedder, "uncached") else nullcontext()
        with fresh:
            started = time.perf_counter()
            answer = index.ask(q.question, mode=mode, history=history)
            seconds = time.perf_counter() - started
        keys = [_key(p, q.answers) for p in answer.passages]
        if depth > k:
            deeper = index.ask(q.question, k=depth, mode=mode, history=history)
            keys += [_key(p, q.answers) for p in deeper.passages[k:]]
        rank_alone = None
        if q.history and use_history and q.answerable:
            alone = index.ask(q.question, k=depth, mode=mode)
            rank_alone = next(
                (r for r, p in enumerate(alone.passages, 1) if _covers_answer(p, q.answers)), None
            )
        top = answer.passages[0] if answer.passages else None
        outcomes.append(
            Outcome(
                id=q.id,
                split=q.split,
                kind=q.kind,
                ranking=_first_answer_only(keys),
                answerable=q.answerable,
                answered=answer.answered,
                **_decision(answer),
                highlight_hit=top is not None and _highlight_covers(top, q.answers),
                seconds=seconds,
                passage_chars=tuple(p.end - p.start for p in answer.passages),
                used_history=answer.used_history,
                history=bool(q.history),
                rank_without_history=rank_alone,
            )
        )
    return outcomes


def run_beir(
    index, queries: dict[str, str], mode: str, depth: int = 100, passages: int = BEIR_PASSAGES,
    say=lambda message: None,
) -> list[Outcome]:
    """Ask every query for `passages` passages; a document ranks where its best passage does."""
    outcomes = []
    for number, (qid, text) in enumerate(queries.items(), start=1):
        if number % 50 == 0:
            say(f"{mode}: {number}/{len(queries)} queries")
        started = time.perf_counter()
        answer = index.ask(text, k=passages, mode=mode)
        seconds = time.perf_counter() - started
        docs: list[str] = []
        for passage in answer.passages:
            if passage.source not in docs:
                docs.append(passage.source)
                if len(docs) == depth:
                    break
        outcomes.append(
            Outcome(id=qid, split="", kind="", ranking=tuple(docs), answered=answer.answered,
                    seconds=seconds, **_decision(answer),
                    passage_chars=tuple(p.end - p.start for p in answer.passages[:10]))
        )
    return outcomes


def _decision(answer) -> dict:
    """The score `answered` was decided by, and its name: the calibrated support where the
    abstainer applies, else the cosine confidence (what the abstention threshold is calibrated over)."""
    if answer.support is not None:
        return {"confidence": answer.support, "decided_by": "support"}
    return {"confidence": answer.confidence, "decided_by": "confidence"}


def _key(passage, answers: Sequence[AnswerSpan]) -> str:
    if _covers_answer(passage, answers):
        return ANSWER
    return f"{passage.source}:{passage.start}-{passage.end}"


def _covers_answer(passage, answers: Sequence[AnswerSpan]) -> bool:
    """True when the passage's span [start, end) covers one answer span entirely."""
    return any(
        a.source == passage.source and passage.start <= a.start and a.end <= passage.end
        for a in answers
    )


def _first_answer_only(keys: list[str]) -> tuple[str, ...]:
    """Later relevant passages become ordinary keys: one relevant item per question."""
    seen, out = False, []
    for position, key in enumerate(keys):
        if key == ANSWER:
            key = ANSWER if not seen else f"{ANSWER}#{position}"
            seen = True
        out.append(key if key not in out else f"{key}#{position}")
    return tuple(out)


def _highlight_covers(passage, answers: Sequence[AnswerSpan]) -> bool:
    """True when the top passage's highlighted sentences contain an answer span entirely
    (adjacent highlights separated only by whitespace count as one stretch)."""
    stretches: list[list[int]] = []
    for start, end in sorted(passage.highlights):
        gap = passage.text[stretches[-1][1] - passage.start : start - passage.start] if stretches else "x"
        if stretches and not gap.strip():
            stretches[-1][1] = max(stretches[-1][1], end)
        else:
            stretches.append([start, end])
    return any(
        a.source == passage.source and s <= a.start and a.end <= e
        for a in answers
        for s, e in stretches
    )


# -- metrics ------------------------------------------------------------------------------------


def ranking_metrics(
    qrels: dict[str, dict[str, int]], runs: dict[str, Sequence[str]], metrics: Sequence[str]
) -> dict[str, float]:
    """Mean ranx metrics of ranked key lists against qrels (a query with no results scores 0)."""
    from ranx import Qrels, Run, evaluate

    qrels = {q: rel for q, rel in qrels.items() if rel}
    if not qrels:
        return {m: float("nan") for m in metrics}
    run = {q: {key: 1.0 / rank for rank, key in enumerate(runs.get(q, ()), 1)} for q in qrels}
    run = {q: scores or {"<none>": 0.0} for q, scores in run.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's type-safety chatter
        values = evaluate(Qrels.from_dict(qrels), Run.from_dict(run), list(metrics), make_comparable=True)
    if isinstance(values, float):
        values = {metrics[0]: values}
    return {m: float(values[m]) for m in metrics}


def summarize(
    mode: str, split: str, outcomes: Sequence[Outcome], qrels: dict[str, dict[str, int]] | None = None,
    metrics: Sequence[str] = RANKING_METRICS, depth: int = 10,
) -> Summary:
    """Ranking metrics (answerable questions, or the given qrels), plus highlight hit, abstention,
    latency and passage length."""
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    ours = qrels is None
    if ours:
        qrels = {o.id: {ANSWER: 1} for o in answerable}
    runs = {o.id: o.ranking for o in answerable}
    curve_ks = sorted(set(range(1, min(depth, 10) + 1)) | {k for k in (20, 50, 100) if k <= depth})
    curve_metrics = [f"recall@{k}" for k in curve_ks]
    values = ranking_metrics(qrels, runs, list(metrics) + [m for m in curve_metrics if m not in metrics])
    result = {m: values[m] for m in metrics}
    seconds = np.array([o.seconds for o in outcomes]) * 1000
    chars = [c for o in outcomes for c in o.passage_chars]
    if ours:
        result["highlight_hit"] = _mean([o.highlight_hit for o in answerable])
        result["abstained_unanswerable"] = _mean([not o.answered for o in unanswerable])
        result["abstained_answerable"] = _mean([not o.answered for o in answerable])
        for kind in ("offtopic", "neartopic"):  # abstention per kind of unanswerable question
            group = [not o.answered for o in unanswerable if o.kind == kind]
            if group:
                result[f"abstained_{kind}"] = _mean(group)
        followups = [o for o in answerable if o.history]
        if followups:
            for k in (1, 5):
                result[f"followup_recall@{k}"] = _mean([o.rank is not None and o.rank <= k for o in followups])
                result[f"followup_recall@{k}_no_history"] = _mean(
                    [o.rank_without_history is not None and o.rank_without_history <= k for o in followups]
                )
    result["latency_p50_ms"] = float(np.percentile(seconds, 50)) if len(seconds) else float("nan")
    result["latency_p95_ms"] = float(np.percentile(seconds, 95)) if len(seconds) else float("nan")
    result["passage_chars"] = float(np.mean(chars)) if chars else float("nan")
    return Summary(mode, split, len(outcomes), result, {k: values[f"recall@{k}"] for k in curve_ks})


def _mean(flags: Sequence[bool]) -> float:
    return float(np.mean(flags)) if len(flags) else float("nan")


# -- the abstention threshold -------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """The min_confidence chosen on some questions, and what it does there."""

    threshold: float
    abstained_unanswerable: float
    abstained_answerable: float
    questions: int

    def to_dict(self) -> dict:
        return {k: round(float(v), 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def calibrate(outcomes: Sequence[Outcome], max_false_abstention: float = 0.05) -> Calibration | None:
    """The threshold that abstains on the most unanswerable questions while abstaining on at most
    `max_false_abstention` of the answerable ones; thresholds sit halfway between observed
    confidences, and among equal results the lowest (kindest to answerable questions) wins."""
    pos = np.array([o.confidence for o in outcomes if o.answerable])
    neg = np.array([o.confidence for o in outcomes if not o.answerable])
    if not len(pos) or not len(neg):
        return None
    values = np.unique(np.concatenate([pos, neg]))
    candidates = np.concatenate([[values[0] - 1e-3], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-3]])
    best = None
    for t in candidates:
        false = float(np.mean(pos < t))
        caught = float(np.mean(neg < t))
        if false > max_false_abstention + 1e-9:
            continue
        key = (caught, -false, -t)
        if best is None or key > best[0]:
            best = (key, Calibration(round(float(t), 4), caught, false, len(pos) + len(neg)))
    return best[1] if best else None


def apply_threshold(outcomes: Sequence[Outcome], threshold: float) -> list[Outcome]:
    """The outcomes as they would be with another min_confidence (confidence is unchanged)."""
    return [replace(o, answered=o.confidence >= threshold) for o in outcomes]


# -- whole evaluations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Everything one `rag eval` run measured."""

    dataset: str
    kind: str
    """"questions" (our format) or "beir"."""
    summaries: list[Summary]
    outcomes: dict[str, list[Outcome]]
    """By mode."""
    index: dict
    calibration: dict[str, dict] = field(default_factory=dict)
    """By mode: the threshold chosen on dev, and its effect on test."""

    def to_dict(self, with_questions: bool = False) -> dict:
        data = {
            "dataset": self.dataset,
            "kind": self.kind,
            "index": self.index,
            "summaries": [s.to_dict() for s in self.summaries],
            "calibration": self.calibration,
        }
        if with_questions:
            data["questions"] = {
                mode: [{"id": o.id, "split": o.split, "kind": o.kind, "rank": o.rank,
                        "answerable": o.answerable, "answered": o.answered,
                        "confidence": round(o.confidence, 4), "highlight_hit": o.highlight_hit,
                        "used_history": o.used_history, "ms": round(o.seconds * 1000, 1),
                        **({"ranking": list(o.ranking[:10])} if self.kind == "beir" else {})}
                       for o in outcomes]
                for mode, outcomes in self.outcomes.items()
            }
        return data


def describe_index(index, seconds: dict | None = None) -> dict:
    """What the measured index holds, for the report."""
    data = index.manifest.data
    return {
        "documents": data["counts"]["documents"],
        "passages": data["counts"]["passages"],
        "chunking": data["settings"]["chunking"],
        "embed_sentences": data["settings"]["embed_sentences"],
        "build_seconds": data.get("timings", {}),
        "query": {k: v for k, v in index.settings.query.__dict__.items()},
        "support_threshold": getattr(getattr(index, "abstainer", None), "threshold", None),
    }


def evaluate_questions(
    index, questions: Sequence[Question], modes: Sequence[str], dataset: str, depth: int = 10,
    max_false_abstention: float = 0.05, measure_latency: bool = True,
) -> Report:
    """Run our question format in each mode; summaries per split and over all questions."""
    splits = sorted({q.split for q in questions if q.split})
    summaries, by_mode, calibration = [], {}, {}
    for mode in modes:
        outcomes = run_questions(index, questions, mode, depth, measure_latency=measure_latency)
        by_mode[mode] = outcomes
        for split in splits + ["all"]:
            group = [o for o in outcomes if split == "all" or o.split == split]
            summaries.append(summarize(mode, split, group, depth=depth))
        dev = [o for o in outcomes if o.split == "dev"]
        chosen = calibrate(dev, max_false_abstention) if dev else None
        if chosen is not None:
            calibration[mode] = {"dev": chosen.to_dict(), "score": outcomes[0].decided_by}
            for split in [s for s in splits if s != "dev"] + ["all"]:
                group = [o for o in outcomes if split == "all" or o.split == split]
                moved = apply_threshold(group, chosen.threshold)
                calibration[mode][split] = {
                    "abstained_unanswerable": round(_mean([not o.answered for o in moved if not o.answerable]), 4),
                    "abstained_answerable": round(_mean([not o.answered for o in moved if o.answerable]), 4),
                }
    return Report(dataset, "questions", summaries, by_mode, describe_index(index), calibration)


def evaluate_beir(
    index, beir, modes: Sequence[str], depth: int = 100, passages: int = BEIR_PASSAGES,
    say=lambda message: None,
) -> Report:
    """Run a BEIR split in each mode (progress every 50 queries through `say`)."""
    summaries, by_mode = [], {}
    for mode in modes:
        outcomes = run_beir(index, beir.queries, mode, depth, passages, say)
        by_mode[mode] = outcomes
        summaries.append(summarize(mode, beir.split, outcomes, beir.qrels, BEIR_METRICS, depth))
    return Report(f"{beir.name} ({beir.split})", "beir", summaries, by_mode, describe_index(index))
