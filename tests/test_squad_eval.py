"""SQuAD-format evaluation data and answer offsets in our question format (no model needed)."""

import json

import pytest

from rag.errors import EvalDataError
from rag.evaluate.questions import load_questions
from rag.evaluate.squad import is_squad, load_squad


def _squad(tmp_path, articles):
    data = {"data": [{"paragraphs": [{"document_id": ident, "context": context, "qas": qas}]}
                     for ident, context, qas in articles]}
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _articles(n):
    out = []
    for i in range(n):
        context = f"Article {i}. The answer to question {i} is forty{i}."
        start = context.index(f"forty{i}")
        out.append((i, context, [{"id": i, "question": f"What is answer {i}?",
                                  "answers": [{"text": f"forty{i}", "answer_start": start}]}]))
    return out


def test_halves_are_disjoint_deterministic_and_cover_every_article(tmp_path):
    path = _squad(tmp_path, _articles(7))
    tuning, test = load_squad(path, "tuning"), load_squad(path, "test")
    tune_docs = {d.source for d in tuning.documents.documents}
    test_docs = {d.source for d in test.documents.documents}
    assert len(tune_docs) == 4 and len(test_docs) == 3  # (7 + 1) // 2 articles tune
    assert not tune_docs & test_docs
    assert tune_docs | test_docs == {f"{i}.txt" for i in range(7)}
    assert tune_docs == {d.source for d in load_squad(path, "tuning").documents.documents}
    assert is_squad(path)


def test_answer_spans_slice_back_to_the_answer_and_a_wrong_offset_is_found_nearby(tmp_path):
    context = "alpha beta gamma beta"
    path = _squad(tmp_path, [(1, context, [
        {"id": "a", "question": "q?", "answers": [{"text": "beta", "answer_start": 15}]},  # off by 2
        {"id": "b", "question": "r?", "answers": [{"text": "delta", "answer_start": 0}]},  # absent
    ])])
    half = load_squad(path, "all")
    (q,) = half.questions  # the question whose only answer is absent is left out
    (span,) = q.answers
    assert context[span.start:span.end] == "beta" and span.start == 17
    assert half.misplaced == 1 and half.dropped == 1


def test_a_file_that_is_not_squad_is_refused(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"data": 3, "paragraphs": 1}', encoding="utf-8")
    with pytest.raises(EvalDataError):
        load_squad(bad)
    with pytest.raises(EvalDataError, match="tuning and test"):
        load_squad(_squad(tmp_path, _articles(2)), "dev")


def test_an_answer_offset_selects_one_occurrence_and_a_wrong_one_names_the_line(tmp_path):
    text = "one two one"
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "x", "question": "q?", "answers": [
        {"file": "f.txt", "text": "one", "start": 8}]}) + "\n", encoding="utf-8")
    (q,) = load_questions(path, {"f.txt": text}.__getitem__)
    assert [(a.start, a.end) for a in q.answers] == [(8, 11)]
    path.write_text(json.dumps({"id": "x", "question": "q?", "answers": [
        {"file": "f.txt", "text": "one", "start": 3}]}) + "\n", encoding="utf-8")
    with pytest.raises(EvalDataError, match="line 1.*not at offset 3"):
        load_questions(path, {"f.txt": text}.__getitem__)


def test_the_v2_question_file_loads_against_the_seeds():
    from pathlib import Path

    from rag.evaluate.indexes import folder_reader

    root = Path(__file__).resolve().parents[1]
    questions = load_questions(root / "eval" / "questions-v2.jsonl", folder_reader(root / "seeds"))
    answerable = [q for q in questions if q.answerable and not q.history]
    assert len(answerable) >= 60
    assert sum(not q.answerable for q in questions) >= 30
    assert sum(bool(q.history) and q.answerable for q in questions) >= 10
    assert {q.split for q in questions} == {"test"}
