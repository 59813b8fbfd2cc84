"""The evaluation harness: metrics worked out by hand, the question-file checks, the BEIR loader,
and whole runs over tiny indexes built with the keyword embedder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.errors import EvalDataError, RagError
from rag.evaluate.beir import is_beir, load_beir
from rag.evaluate.questions import AnswerSpan, load_questions
from rag.evaluate.runs import (
    ANSWER,
    Outcome,
    _first_answer_only,
    _highlight_covers,
    calibrate,
    ranking_metrics,
    summarize,
)

FIXTURES = Path(__file__).parent / "fixtures"


# -- metrics, by hand ---------------------------------------------------------------------------


def test_ranking_metrics_match_hand_computed_values():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}}
    runs = {"q1": ["x", "a", "y"], "q2": ["b", "z", "c"]}
    got = ranking_metrics(qrels, runs, ["recall@1", "recall@3", "mrr@10", "ndcg@3"])
    # recall@1: q1 0/1, q2 1/2           -> mean 0.25
    # recall@3: q1 1/1, q2 2/2           -> 1.0
    # mrr@10:   q1 1/2, q2 1/1           -> 0.75
    # ndcg@3:   q1 (1/log2 3) / 1 = 0.6309; q2 (1 + 1/log2 4) / (1 + 1/log2 3) = 1.5 / 1.6309
    #           = 0.9197                  -> mean 0.7753
    assert got["recall@1"] == pytest.approx(0.25)
    assert got["recall@3"] == pytest.approx(1.0)
    assert got["mrr@10"] == pytest.approx(0.75)
    assert got["ndcg@3"] == pytest.approx(0.7753, abs=1e-4)


def test_a_query_with_no_results_scores_zero():
    got = ranking_metrics({"q1": {"a": 1}, "q2": {"b": 1}}, {"q1": ["a"]}, ["recall@5", "mrr@10"])
    assert got == {"recall@5": pytest.approx(0.5), "mrr@10": pytest.approx(0.5)}


def _outcome(qid, ranking, answerable=True, answered=True, confidence=0.5, split="dev", **extra):
    return Outcome(id=qid, split=split, kind="", ranking=tuple(ranking), answerable=answerable,
                   answered=answered, confidence=confidence, **extra)


def test_summary_of_our_format_counts_each_question_at_its_first_answer():
    outcomes = [
        _outcome("a", [ANSWER, "p2", "p3"], highlight_hit=True, passage_chars=(100, 300)),
        _outcome("b", ["p1", "p2", ANSWER], passage_chars=(200,)),
        _outcome("c", ["p1", "p2", "p3"], answered=False),
        _outcome("u", ["p1"], answerable=False, answered=False, confidence=0.1),
    ]
    metrics = summarize("hybrid", "dev", outcomes).metrics
    # Three answerable questions, answers at ranks 1, 3 and nowhere:
    # recall@1 = 1/3, recall@3 = 2/3, mrr@10 = (1 + 1/3 + 0) / 3 = 0.4444
    assert metrics["recall@1"] == pytest.approx(1 / 3)
    assert metrics["recall@3"] == pytest.approx(2 / 3)
    assert metrics["mrr@10"] == pytest.approx(4 / 9)
    assert metrics["highlight_hit"] == pytest.approx(1 / 3)
    assert metrics["abstained_unanswerable"] == 1.0      # u abstained
    assert metrics["abstained_answerable"] == pytest.approx(1 / 3)  # c abstained wrongly
    assert metrics["passage_chars"] == pytest.approx(200)  # (100 + 300 + 200) / 3


def test_only_the_first_relevant_passage_counts():
    assert _first_answer_only(["x", ANSWER, ANSWER, "x"]) == ("x", ANSWER, f"{ANSWER}#2", "x#3")


@dataclass
class _Passage:
    source: str
    start: int
    end: int
    text: str
    highlights: tuple


def test_highlight_hit_needs_the_whole_answer_inside_adjacent_highlights():
    text = "One. Two sentences here. Three."
    passage = _Passage("f.txt", 0, len(text), text, ((0, 4), (5, 24)))
    across = AnswerSpan("f.txt", 2, 10)  # "e. Two s": spans two adjacent highlighted sentences
    assert _highlight_covers(passage, [across])
    outside = AnswerSpan("f.txt", 25, 31)  # "Three." is not highlighted
    assert not _highlight_covers(passage, [outside])
    elsewhere = AnswerSpan("g.txt", 0, 4)
    assert not _highlight_covers(passage, [elsewhere])


def test_calibration_abstains_most_unanswerable_within_the_false_abstention_budget():
    answerable = [_outcome(f"a{i}", [ANSWER], confidence=c) for i, c in enumerate([0.5, 0.6, 0.7, 0.8])]
    unanswerable = [_outcome(f"u{i}", [], answerable=False, confidence=c) for i, c in enumerate([0.2, 0.4, 0.65])]
    chosen = calibrate(answerable + unanswerable, max_false_abstention=0.0)
    # No answerable question may be abstained: the threshold must stay <= 0.5; halfway between
    # 0.4 and 0.5 catches 0.2 and 0.4 (2 of 3 unanswerable).
    assert chosen.threshold == pytest.approx(0.45)
    assert chosen.abstained_unanswerable == pytest.approx(2 / 3)
    assert chosen.abstained_answerable == 0.0
    loose = calibrate(answerable + unanswerable, max_false_abstention=0.25)
    # One answerable may go: halfway between 0.5 and 0.6 catches the same two, so the kinder
    # 0.45 still wins; catching 0.65 would cost two answerable questions (50%).
    assert loose.threshold == pytest.approx(0.45)


# -- the question file --------------------------------------------------------------------------


DOCS = {"a.txt": "The apple grows on trees. The apple is red.", "b.txt": "A banana is yellow."}


def _read(source):
    return DOCS[source]


def _write(tmp_path, rows):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_questions_load_with_every_occurrence_of_the_answer(tmp_path):
    path = _write(tmp_path, [
        {"id": "1", "question": "What grows on trees?", "answers": [{"file": "a.txt", "text": "The apple"}],
         "split": "dev"},
        {"id": "2", "question": "What about bananas?", "answers": [], "history": ["Fruit?"]},
    ])
    first, second = load_questions(path, _read)
    assert first.answers == (AnswerSpan("a.txt", 0, 9), AnswerSpan("a.txt", 26, 35))
    assert first.split == "dev" and first.answerable
    assert not second.answerable and second.history == ("Fruit?",)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"id": "2", "answers": []}, "line 2: missing field 'question'"),
        ({"id": "2", "question": "Q?", "answers": [{"file": "a.txt", "text": "a pear"}]},
         "line 2: the answer text 'a pear' is not found in a.txt"),
        ({"id": "2", "question": "Q?", "answers": [{"file": "c.txt", "text": "x"}]},
         "line 2: the answer file 'c.txt' is not an indexed document"),
        ("{not json", "line 2: not valid JSON"),
        ({"id": "1", "question": "Q?", "answers": []}, "line 2: the id '1' is used twice"),
    ],
)
def test_a_bad_question_file_names_the_line(tmp_path, bad, message):
    good = {"id": "1", "question": "Q?", "answers": []}
    path = _write(tmp_path, [good, bad])
    with pytest.raises(EvalDataError, match=message.replace("(", r"\(")) as raised:
        load_questions(path, _read)
    assert isinstance(raised.value, RagError)


# -- BEIR ---------------------------------------------------------------------------------------


def test_beir_loader_reads_the_tiny_fixture():
    folder = FIXTURES / "beir-tiny"
    assert is_beir(folder) and not is_beir(FIXTURES)
    beir = load_beir(folder)
    texts = {d.source: d.text for d in beir.documents.documents}
    assert texts["d1"] == "Apples\n\nThe apple grows on trees in the orchard."
    assert texts["d2"] == "A banana is yellow and sweet."  # no title: no blank line either
    assert set(beir.queries) == {"1", "2"}  # only judged queries; "3" has no judgement
    assert beir.qrels == {"1": {"d1": 1}, "2": {"d3": 1}}  # the score-0 row is not relevant
    assert load_beir(folder, limit=1).queries == {"1": "Where does the apple grow?"}


def test_beir_loader_explains_a_missing_split():
    with pytest.raises(EvalDataError, match="qrels/dev.tsv is missing"):
        load_beir(FIXTURES / "beir-tiny", split="dev")


# -- whole runs on tiny indexes (keyword embedder) ----------------------------------------------


def test_beir_run_ranks_documents_by_their_best_passage(keyword_embedder, tmp_path):
    from rag.config import Settings
    from rag.evaluate.indexes import eval_settings, open_beir_index
    from rag.evaluate.runs import evaluate_beir

    beir = load_beir(FIXTURES / "beir-tiny")
    settings = eval_settings(
        Settings.from_env(environ={}, index_dir=tmp_path / "beir", model="keyword-test",
                          embed_sentences=False), 300)
    index = open_beir_index(settings, beir, embedder=keyword_embedder)
    report = evaluate_beir(index, beir, ["dense", "lexical", "hybrid"], depth=3, passages=10)
    for summary in report.summaries:
        # Each query's one relevant document shares its keywords: ranked first in every mode.
        assert summary.metrics["ndcg@10"] == pytest.approx(1.0), summary.mode
        assert summary.metrics["recall@100"] == pytest.approx(1.0)
    calls = keyword_embedder.calls
    open_beir_index(settings, beir, embedder=keyword_embedder)  # fresh: reused, nothing embedded
    assert keyword_embedder.calls == calls


def test_question_run_over_a_tiny_index(keyword_embedder, tiny_settings, tmp_path):
    from rag.evaluate.indexes import eval_settings, open_question_index, source_reader
    from rag.evaluate.runs import evaluate_questions

    index = open_question_index(eval_settings(tiny_settings, 10), embedder=keyword_embedder)
    path = _write(tmp_path, [
        {"id": "1", "question": "Which train follows the river?", "split": "dev",
         "answers": [{"file": "travel.md", "text": "The train follows the river."}]},
        {"id": "2", "question": "Is a banana yellow?", "split": "test",
         "answers": [{"file": "fruit.txt", "text": "A banana is yellow and sweet."}]},
    ])
    questions = load_questions(path, source_reader(index))
    report = evaluate_questions(index, questions, ["lexical"], "tiny", measure_latency=False)
    overall = next(s for s in report.summaries if s.split == "all")
    assert overall.metrics["recall@1"] == pytest.approx(1.0)
    assert [s.split for s in report.summaries] == ["dev", "test", "all"]
    assert report.to_dict()["summaries"][2]["questions"] == 2


def test_cli_names_the_bad_line_and_exits_2(tiny_docs, tmp_path):
    from tests.test_cli import rag

    bad = _write(tmp_path, [
        {"id": "1", "question": "Is a banana yellow?", "answers": [{"file": "fruit.txt", "text": "banana"}]},
        {"id": "2", "question": "Which train?", "answers": [{"file": "travel.md", "text": "a plane"}]},
    ])
    result = rag("eval", bad, "--docs-dir", tiny_docs, "--index-dir", tmp_path / "index")
    assert result.returncode == 2
    assert "line 2: the answer text 'a plane' is not found in travel.md" in result.stderr
    assert not (tmp_path / "index").exists()  # refused before any model load or build
