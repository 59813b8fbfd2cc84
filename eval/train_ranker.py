"""Choose the hybrid ranking and train its learned parts on the TUNING sets only, by the rule in
docs/evaluation.md; writes rag/search/models/ranker.json, ranker-passages.json (for indexes
without sentence vectors) and abstain.json (byte for byte the same on the same indexes).

    python eval/train_ranker.py extract   # features of every candidate of every tuning question -> $RAG_TRAIN_DIR
                                          # (questions as the defaults embed them; float32 ones in float32/)
    python eval/train_ranker.py choose    # RRF grid and the learned rankers, cross-validated and each set held out; prints the tables
    python eval/train_ranker.py write     # fits the chosen rankers and the abstainer on all tuning data

With RAG_TRAIN_BACKEND=onnx-int8 (and another RAG_TRAIN_DIR) the same three steps run on int8 twins
of the tuning indexes ("-int8" folders, built if missing) and write ranker-int8.json and
abstain-int8.json: the models an index built with `backend = "onnx-int8"` reads.

Tuning sets: eval/questions.jsonl over seeds/ (index/), the COVID-QA tuning half with
eval/covid-unanswerable.jsonl's tuning questions (index/squad-200423_covidQA-tuning), and the
SciFact train slice (index/beir-scifact); all three indexes built with
sentence vectors (eval/build_tuning.py; extract the slice before building the full SciFact corpus into that folder).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.search.features import (  # noqa: E402
    FEATURES, QUERY_FEATURES, SENTENCE_STAND_INS, Lists, TermStats, candidate_features, head_features,
    query_features, with_stand_ins,
)
from rag.search.ranking import retrieve, sentence_passages  # noqa: E402
from rag.search.rerank import BACKEND_MODELS, MODELS, LinearModel  # noqa: E402

OUT = Path(os.environ.get("RAG_TRAIN_DIR", "/tmp/rag-train"))
BACKEND = os.environ.get("RAG_TRAIN_BACKEND", "")
""""": the tuning indexes as the defaults build them; "onnx-int8": their int8 twins, in folders
named like them plus "-int8" (the seeds' in index/seeds-int8), for the models an int8 index
reads (`ranker-int8.json`, `abstain-int8.json`: `rag.search.rerank.for_backend`)."""
if BACKEND not in ("", *BACKEND_MODELS):
    raise SystemExit(f"RAG_TRAIN_BACKEND must be empty or one of {', '.join(BACKEND_MODELS)}")
SUFFIX = BACKEND_MODELS.get(BACKEND, "")
FLOAT32 = "float32"
"""OUT's folder of the features with questions embedded in float32 (what an index without
sentence vectors answers with: `QuerySettings.question_backend`), for the passage ranker."""
COVID = Path(os.environ.get("RAG_COVID", ROOT.parent / "shared/bench-data/covid-qa/200423_covidQA.json"))
SCIFACT = Path(os.environ.get("RAG_SCIFACT", ROOT.parent / "shared/bench-data/scifact"))
OFFTOPIC = ROOT / "eval" / "offtopic.jsonl"
"""Generic off-topic questions (cooking, sport, code, travel ...), written without looking at any
corpus: unanswerable in every tuning set, so each set, SciFact's too, has negatives of that kind."""
DEPTH = 100
RERANK = 50
FOLDS = 5
MAX_FALSE_ABSTENTION = 0.05
"""What the abstainer may cost on a corpus it has never seen: the share of answerable questions
it abstains on."""
TARGETS = (0.05, 0.04, 0.03, 0.02, 0.01, 0.005)
"""Shares of each tuning set's answerable questions the threshold may abstain on, most lenient
first: `calibrate` takes the first whose leave-one-set-out false abstention, averaged over the
held-out sets, is within MAX_FALSE_ABSTENTION. (Within it on *every* held-out set was tried: it
takes 0.5%, because a model fitted without SciFact abstains on ~10% of SciFact's claims, and
that threshold gave up near-topic abstention on both test sets: docs/evaluation.md.)"""
NO_SENTENCES: set[str] = set()
"""Sets indexed without sentence vectors: the learned ranker and abstainer are not used on such
an index (Index keeps plain fusion there), so these sets choose only the fusion weights. Empty
since 2026-12-02: the SciFact train slice is built with sentence vectors (eval/build_tuning.py),
so all three tuning sets train the ranker and calibrate the abstainer."""
GRID = [dict(dense_weight=d, lexical_weight=l, sentence_weight=s, rrf_k=k)
        for d, l, s, k in itertools.product((0.5, 1.0, 1.5), (0.5, 1.0), (0.0, 0.5, 1.0), (20, 60))]


# -- the tuning sets ------------------------------------------------------------------------------


def tuning_sets(names=("seeds-v1", "covid-tuning", "scifact-train")):
    """(name, index, questions) with questions as (id, text, history, judge) where judge maps a
    list of candidate ids to relevance labels, or None for an unanswerable question; every set
    also gets the generic off-topic questions of OFFTOPIC, as unanswerable."""
    from rag.evaluate.questions import load_questions

    offtopic = [(q.id, q.question, q.history, None) for q in load_questions(OFFTOPIC, lambda source: "")]
    for name, index, questions in _tuning_sets(names):
        yield name, index, questions + offtopic


def _tuning_sets(names):
    from rag.evaluate.beir import load_beir, slice_beir
    from rag.evaluate.indexes import eval_settings, open_beir_index, open_question_index, source_reader
    from rag.evaluate.questions import load_questions
    from rag.evaluate.squad import load_squad
    from rag.store.build import load_embedder

    embedder = load_embedder(_settings(index_dir=ROOT / "index"))
    if "seeds-v1" in names:
        yield from _seeds(embedder, eval_settings, open_question_index, load_questions, source_reader)
    if "covid-tuning" in names:
        yield from _covid(embedder, eval_settings, open_beir_index, load_questions, load_squad)
    if "scifact-train" in names:
        yield from _scifact(embedder, eval_settings, open_beir_index, load_beir, slice_beir)


def _settings(index_dir: Path, **overrides) -> Settings:
    """A tuning index's settings: the defaults', or (BACKEND) its twin's."""
    if BACKEND:
        twin = index_dir / "seeds" if index_dir == ROOT / "index" else index_dir
        overrides.update(backend=BACKEND, index_dir=Path(f"{twin}{SUFFIX}"))
    return Settings.from_env(environ={}, **{"index_dir": index_dir, **overrides})


def _seeds(embedder, eval_settings, open_question_index, load_questions, source_reader):
    seeds = open_question_index(eval_settings(_settings(ROOT / "index"), 10), embedder=embedder)
    ours = load_questions(ROOT / "eval" / "questions.jsonl", source_reader(seeds))
    yield "seeds-v1", seeds, [(q.id, q.question, q.history, _span_judge(seeds, q.answers)) for q in ours]


def _covid(embedder, eval_settings, open_beir_index, load_questions, load_squad):
    covid = load_squad(COVID, "tuning")
    extra = [q for q in load_questions(ROOT / "eval" / "covid-unanswerable.jsonl", lambda s: "")
             if q.split == "tuning"]
    index = open_beir_index(eval_settings(_settings(ROOT / "index" / "squad-200423_covidQA-tuning"), 10),
                            covid, embedder)
    yield "covid-tuning", index, [(q.id, q.question, q.history, _span_judge(index, q.answers))
                                  for q in covid.questions + extra]


def _scifact(embedder, eval_settings, open_beir_index, load_beir, slice_beir):
    scifact = slice_beir(load_beir(SCIFACT, "train"))
    index = open_beir_index(eval_settings(_settings(ROOT / "index" / "beir-scifact", embed_sentences=True), 300),
                            scifact, embedder)
    yield "scifact-train", index, [(q, text, (), _doc_judge(index, scifact.qrels[q]))
                                   for q, text in scifact.queries.items()]


def _span_judge(index, answers):
    if not answers:
        return None

    def judge(ids):
        stored = index.chunks.chunks([int(i) for i in ids])
        return np.array([any(a.source == s.chunk.source and s.chunk.start <= a.start and a.end <= s.chunk.end
                             for a in answers) for s in stored], dtype=np.int8)
    return judge


def _doc_judge(index, relevant):
    def judge(ids):
        return np.array([s.chunk.source in relevant for s in index.chunks.chunks([int(i) for i in ids])],
                        dtype=np.int8)
    judge.relevant = len(relevant)
    return judge


# -- extraction -----------------------------------------------------------------------------------


def extract(*names) -> None:
    """Every candidate's features with questions embedded as the defaults do (int8 over these
    sentence-vector indexes) into OUT, and embedded by the index's own float32 backend, as an index
    without sentence vectors embeds them, into OUT/FLOAT32 (for the passage ranker)."""
    from rag.index import Index

    (OUT / FLOAT32).mkdir(parents=True, exist_ok=True)
    for name, index, questions in tuning_sets(names or ("seeds-v1", "covid-tuning", "scifact-train")):
        _extract(name, index, questions, OUT)
        own = Index(index.build, index.settings.with_overrides(question_backend=""), index.embedder)
        _extract(name, own, questions, OUT / FLOAT32)


def _extract(name, index, questions, out: Path) -> None:
    settings = index.settings.query
    rows = []
    for qid, text, history, judge in questions:
        query = index.query(text, "hybrid", history)
        by_sentence = sentence_passages(query.vector, index.sentence_vectors, index.corpus.sentence_chunks,
                                        DEPTH, None) if index.sentence_vectors is not None else None
        lists = retrieve(query, index.corpus, _depth(settings), None, by_sentence)
        ids = sorted(set(lists.dense) | set(lists.lexical) | set(lists.sentence))
        terms = TermStats(index.corpus, query.terms)
        features = candidate_features(query, index.corpus, lists, ids, terms)
        ranks = np.array([[table.get(i, (DEPTH + 1,))[0] for table in (lists.dense, lists.lexical, lists.sentence)]
                          for i in ids], dtype=np.int32)
        docs = [s.chunk.source for s in index.chunks.chunks(ids)]
        dense_scores = np.array([s for _, s in lists.dense.values()], dtype=np.float32)
        rows.append(dict(id=qid, ids=np.array(ids), features=features, ranks=ranks, docs=docs,
                         labels=None if judge is None else judge(ids),
                         relevant=getattr(judge, "relevant", 1) if judge else 0,
                         dense_scores=dense_scores, missing=terms.missing()))
    levels = json.loads((out / "probes.json").read_text()) if (out / "probes.json").exists() else {}
    levels[name] = index.probe_level()
    (out / "probes.json").write_text(json.dumps(levels, sort_keys=True))
    with open(out / f"{name}.pkl", "wb") as handle:
        import pickle
        pickle.dump(rows, handle)
    print(f"{name} ({index.question_embedder.identity['backend']} questions): {len(rows)} questions, "
          f"{sum(len(r['ids']) for r in rows)} candidates", flush=True)


def _depth(settings):
    from dataclasses import replace
    return replace(settings, candidates=DEPTH)


def load(folder: Path | None = None) -> dict[str, list[dict]]:
    """The extracted tuning sets (of OUT, or of `folder`); SciFact's rows scored by abstract (its
    judgements are per document)."""
    import pickle
    data = {p.stem: pickle.load(open(p, "rb")) for p in sorted((folder or OUT).glob("*.pkl"))}
    for row in data.get("scifact-train", []):
        row["docs_level"] = True
    return data


# -- scoring a ranking ----------------------------------------------------------------------------


def rrf_scores(ranks: np.ndarray, p: dict) -> np.ndarray:
    weights = np.array([p["dense_weight"], p["lexical_weight"], p["sentence_weight"]])
    present = ranks <= DEPTH
    return (present * weights / (p["rrf_k"] + ranks)).sum(axis=1)


def order_of(scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return np.lexsort((ids, -scores))


def quality(row: dict, order: np.ndarray) -> float:
    """Mean of nDCG@10 and R@5 (first relevant passage), or for documents nDCG@10 and R@10."""
    labels = row["labels"][order]
    if row["relevant"] > 1 or row.get("docs_level"):
        seen, gains = [], []
        for n in order:
            doc = row["docs"][n]
            if doc not in seen:
                seen.append(doc)
                gains.append(int(row["labels"][n]))
            if len(seen) == 10:
                break
        dcg = sum(g / np.log2(r + 2) for r, g in enumerate(gains))
        ideal = sum(1 / np.log2(r + 2) for r in range(min(row["relevant"], 10)))
        return (dcg / ideal + sum(gains) / row["relevant"]) / 2
    hits = np.flatnonzero(labels)
    if not len(hits):
        return 0.0
    r = hits[0] + 1
    return ((1 / np.log2(r + 1) if r <= 10 else 0.0) + (r <= 5)) / 2


def answerable(rows):
    return [r for r in rows if r["labels"] is not None]


def fold(name: str, qid: str) -> int:
    return int(hashlib.sha256(f"{name}:{qid}".encode()).hexdigest(), 16) % FOLDS


def reranked(row, base: dict, model: LinearModel | None):
    """Candidate order: chosen RRF, the first RERANK re-scored by `model`; and the learned scores."""
    order = order_of(rrf_scores(row["ranks"], base), row["ids"])
    if model is None:
        return order, None
    head = order[:RERANK]
    learned = model.score(head_features(row["features"][head]))
    inner = np.lexsort((row["ids"][head], -learned))
    return np.concatenate([head[inner], order[RERANK:]]), learned[inner]


def fit(data: dict, base: dict, keep=lambda name, row: True) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    xs, ys, ws = [], [], []
    for name, rows in data.items():
        if name in NO_SENTENCES:
            continue
        chosen = [r for r in answerable(rows) if keep(name, r)]
        for row in chosen:
            head = order_of(rrf_scores(row["ranks"], base), row["ids"])[:RERANK]
            xs.append(head_features(row["features"][head]))
            ys.append(row["labels"][head])
            ws.append(np.full(len(head), 1.0 / (len(chosen) * len(head))))
    x, y, w = np.vstack(xs).astype(np.float64), np.concatenate(ys), np.concatenate(ws)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
    clf.fit((x - mean) / scale, y, sample_weight=w * len(w))
    return LinearModel("ranker", FEATURES, mean, scale, clf.coef_[0], float(clf.intercept_[0]))


def mean_quality(data, base, model_for=lambda name, row: None):
    per = {}
    for name, rows in data.items():
        per[name] = float(np.mean([quality(r, reranked(r, base, model_for(name, r))[0]) for r in answerable(rows)]))
    return float(np.mean(list(per.values()))), per


def without_sentences(data: dict) -> dict:
    """The candidates as an index built without sentence vectors sees them: no sentence list,
    and the sentence features replaced by their passage stand-ins (for the passage ranker)."""
    out = {}
    for name, rows in data.items():
        out[name] = []
        for row in rows:
            ranks = row["ranks"].copy()
            ranks[:, 2] = DEPTH + 1
            out[name].append({**row, "features": with_stand_ins(row["features"]), "ranks": ranks})
    return out


def cross_validated(data: dict, base: dict) -> tuple[float, dict]:
    folds = {f: fit(data, base, keep=lambda name, row, f=f: fold(name, row["id"]) != f) for f in range(FOLDS)}
    return mean_quality(data, base, lambda name, row: None if name in NO_SENTENCES else folds[fold(name, row["id"])])


def held_out(data: dict, base: dict) -> dict[str, float]:
    """Per set, the ranker trained on the other tuning sets scored on it: the closest stand-in
    for a set nobody has seen (printed by `choose`, not part of the rule)."""
    out = {}
    for name in data:
        model = fit(data, base, keep=lambda other, row: other != name)
        out[name] = float(np.mean([quality(r, reranked(r, base, model)[0]) for r in answerable(data[name])]))
    return out


def choose() -> dict:
    data = load()
    print("| candidate | " + " | ".join(data) + " | mean |\n|---|" + "---|" * (len(data) + 1))
    results = []
    for p in GRID:
        mean, per = mean_quality(data, p)
        results.append((mean, p))
        label = ", ".join(f"{k}={v}" for k, v in p.items())
        print(f"| RRF {label} | " + " | ".join(f"{per[n]:.4f}" for n in data) + f" | {mean:.4f} |", flush=True)
    best_mean = max(m for m, _ in results)
    near = [(m, p) for m, p in results if m >= best_mean - 0.002]
    # within 0.002 of the best, the simpler wins: no third list, then the usual rrf_k 60
    base = min(near, key=lambda mp: (mp[1]["sentence_weight"] > 0, mp[1]["rrf_k"] != 60, -mp[0]))[1]
    base_mean = mean_quality(data, base)
    cv_mean, cv_per = cross_validated(data, base)
    print(f"| chosen RRF {base} | " + " | ".join(f"{base_mean[1][n]:.4f}" for n in data) + f" | {base_mean[0]:.4f} |")
    print("| learned ranker (5-fold CV) on it | " + " | ".join(f"{cv_per[n]:.4f}" for n in data) + f" | {cv_mean:.4f} |")
    loso = held_out(data, base)
    print("| learned ranker trained on the other sets | " + " | ".join(f"{loso[n]:.4f}" for n in data)
          + f" | {np.mean(list(loso.values())):.4f} |")
    # Indexes without sentence vectors: the same fusion without its sentence list, against a
    # ranker trained on the passage stand-ins of the sentence features.
    plain = without_sentences(load(OUT / FLOAT32))
    plain_mean, plain_per = mean_quality(plain, base)
    plain_cv, plain_cv_per = cross_validated(plain, base)
    print("| without sentence vectors: RRF | " + " | ".join(f"{plain_per[n]:.4f}" for n in data) + f" | {plain_mean:.4f} |")
    print("| without sentence vectors: passage ranker (5-fold CV) | " + " | ".join(
        f"{plain_cv_per[n]:.4f}" for n in data) + f" | {plain_cv:.4f} |")
    loso = held_out(plain, base)
    print("| without sentence vectors: passage ranker trained on the other sets | " + " | ".join(
        f"{loso[n]:.4f}" for n in data) + f" | {np.mean(list(loso.values())):.4f} |")
    chosen = {"rrf": base, "learned": cv_mean > base_mean[0] + 0.002,
              "rrf_mean": round(base_mean[0], 4), "cv_mean": round(cv_mean, 4),
              "passages_learned": plain_cv > plain_mean + 0.002,
              "passages_rrf_mean": round(plain_mean, 4), "passages_cv_mean": round(plain_cv, 4)}
    print(json.dumps(chosen))
    (OUT / "choice.json").write_text(json.dumps(chosen, indent=1) + "\n")
    return chosen


# -- abstention -----------------------------------------------------------------------------------


class _Terms:
    def __init__(self, missing):
        self._missing = missing

    def missing(self):
        return self._missing


def abstention_rows(data, base, model):
    """(set, question id, answerable, QUERY_FEATURES of the first candidate) for every question."""
    probes = json.loads((OUT / "probes.json").read_text())
    out = []
    for name, rows in data.items():
        for row in rows:
            order, learned = reranked(row, base, model)
            scores = learned if learned is not None else rrf_scores(row["ranks"], base)[order]
            lists = Lists({n: (n, float(s)) for n, s in enumerate(row["dense_scores"])}, {}, {}, DEPTH)
            signals = query_features(lists, head_features(row["features"][order[:RERANK]])[:2], scores[:2],
                                     _Terms(row["missing"]), probes[name])
            out.append((name, row["id"], row["labels"] is not None, signals[0]))
    return out


def fit_abstainer(rows, target: float = MAX_FALSE_ABSTENTION) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    x = np.array([r[3] for r in rows], dtype=np.float64)
    y = np.array([r[2] for r in rows], dtype=np.int8)
    sets = sorted({r[0] for r in rows})
    w = np.zeros(len(rows))
    for name in sets:  # every set and, within it, both classes weigh the same
        for label in (0, 1):
            members = [n for n, r in enumerate(rows) if r[0] == name and r[2] == label]
            for n in members:
                w[n] = 1.0 / len(members)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    clf = LogisticRegression(C=0.5, max_iter=2000)
    clf.fit((x - mean) / scale, y, sample_weight=w * len(w) / w.sum())
    model = LinearModel("abstain", QUERY_FEATURES, mean, scale, clf.coef_[0], float(clf.intercept_[0]))
    p = model.probability(x)
    threshold = 1.0
    for name in sets:  # the highest threshold that abstains on <= target of each set's answerable questions
        pos = np.sort(p[(y == 1) & np.array([r[0] == name for r in rows])])
        allowed = int(np.floor(target * len(pos)))
        threshold = min(threshold, float(pos[allowed]) - 1e-6)
    from dataclasses import replace
    return replace(model, threshold=round(threshold, 6))


def abstention_rates(model: LinearModel, rows) -> dict[str, dict]:
    """Per set: the share of answerable and of unanswerable questions `model` abstains on."""
    p = model.probability(np.array([r[3] for r in rows]))
    report = {}
    for name in sorted({r[0] for r in rows}):
        pos = [pp < model.threshold for pp, r in zip(p, rows) if r[0] == name and r[2]]
        neg = [pp < model.threshold for pp, r in zip(p, rows) if r[0] == name and not r[2]]
        report[name] = {"abstained_answerable": round(float(np.mean(pos)), 4),
                        "abstained_unanswerable": round(float(np.mean(neg)), 4) if neg else None}
    return report


def calibrate(rows) -> tuple[float, dict]:
    """The first of TARGETS at which abstainers fitted and calibrated on all tuning sets but one
    abstain, on average over the sets held out, on at most MAX_FALSE_ABSTENTION of the held-out
    set's answerable questions; and the held-out rates at each target tried."""
    tried = {}
    for target in TARGETS:
        held = {}
        for name in sorted({r[0] for r in rows}):
            model = fit_abstainer([r for r in rows if r[0] != name], target)
            held[name] = abstention_rates(model, [r for r in rows if r[0] == name])[name]
        tried[str(target)] = held
        if np.mean([h["abstained_answerable"] for h in held.values()]) <= MAX_FALSE_ABSTENTION:
            return target, tried
    return TARGETS[-1], tried


def write() -> None:
    data = load()
    chosen = json.loads((OUT / "choice.json").read_text())
    base = chosen["rrf"]
    ranker = None
    if chosen["learned"]:
        ranker = fit(data, base)
        ranker = LinearModel(f"ranker{SUFFIX}", FEATURES, ranker.mean, ranker.scale, ranker.coef, ranker.intercept,
                             meta={"rrf": base, "rerank_depth": RERANK, "cv_mean": chosen["cv_mean"],
                                   "rrf_mean": chosen["rrf_mean"], "trained_on": sorted(set(data) - NO_SENTENCES)})
        (MODELS / f"ranker{SUFFIX}.json").write_text(ranker.to_json(), encoding="utf-8")
    if chosen.get("passages_learned") and not SUFFIX:  # an index without sentence vectors is float32
        plain = fit(without_sentences(load(OUT / FLOAT32)), base)
        plain = LinearModel("ranker-passages", FEATURES, plain.mean, plain.scale, plain.coef, plain.intercept,
                            meta={"rrf": base, "rerank_depth": RERANK, "cv_mean": chosen["passages_cv_mean"],
                                  "rrf_mean": chosen["passages_rrf_mean"], "trained_on": sorted(data),
                                  "stand_ins": SENTENCE_STAND_INS})
        (MODELS / "ranker-passages.json").write_text(plain.to_json(), encoding="utf-8")
        print("passage ranker:", dict(zip(FEATURES, np.round(plain.coef, 3))))
    rows = abstention_rows({n: r for n, r in data.items() if n not in NO_SENTENCES}, base, ranker)
    target, held_out = calibrate(rows)
    abstainer = fit_abstainer(rows, target)
    report = abstention_rates(abstainer, rows)
    abstainer = LinearModel(f"abstain{SUFFIX}", QUERY_FEATURES, abstainer.mean, abstainer.scale, abstainer.coef,
                            abstainer.intercept, abstainer.threshold,
                            meta={"tuning": report, "target": target, "held_out": held_out})
    (MODELS / f"abstain{SUFFIX}.json").write_text(abstainer.to_json(), encoding="utf-8")
    print("held out, per target tried:", json.dumps(held_out, indent=1))
    print(f"target {target}; on the tuning sets:", json.dumps(report, indent=1))
    print("coefficients:", dict(zip(QUERY_FEATURES, np.round(abstainer.coef, 3))))
    if ranker is not None:
        print("ranker:", dict(zip(FEATURES, np.round(ranker.coef, 3))))


if __name__ == "__main__":
    {"extract": extract, "choose": choose, "write": write}[sys.argv[1] if len(sys.argv) > 1 else "choose"](
        *sys.argv[2:])
