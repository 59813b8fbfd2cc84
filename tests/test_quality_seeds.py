"""Behaviour a reader notices, with the real model on the seeds: a new topic is not read as a
follow-up, a real follow-up is, an off-topic question is abstained on and its passages are not
labelled a strong match, and a "when" question's highlight holds the date."""

import pytest

from rag.index import Index
from rag.serve.render import match_label, passage_score

pytestmark = pytest.mark.slow


def _index(seed_index, embedder):
    from rag.config import Settings

    settings = Settings.from_env(environ={}, index_dir=seed_index.build.parent)
    return Index(seed_index.build, settings, embedder, check_freshness=False)


def test_a_new_topic_after_war_questions_is_not_a_follow_up(seed_index, embedder):
    index = _index(seed_index, embedder)
    answer = index.ask("best pizza recipe", history=["How many troops did North Korea send to Russia?"])
    assert not answer.used_history
    assert not answer.answered
    for passage in answer.passages:
        assert match_label(*passage_score(passage, answer))[1] == "weak"


def test_a_real_follow_up_uses_the_history_and_finds_its_answer(seed_index, embedder):
    index = _index(seed_index, embedder)
    answer = index.ask("And how much do they get paid?",
                       history=["Who really profits from sending Korean soldiers to Russia?"])
    assert answer.used_history and answer.answered
    texts = [p.text for p in answer.passages[:3]]
    assert any("$2,000 per month" in t for t in texts)


def test_a_when_question_highlights_the_sentence_with_the_date(seed_index, embedder):
    index = _index(seed_index, embedder)
    answer = index.ask("On what day did Putin and Kim sign their comprehensive strategic partnership?")
    dated = [p for p in answer.passages[:3] if "19 June 2024" in p.text]
    assert dated, [p.text[:80] for p in answer.passages[:3]]
    text = index.document_text(dated[0].source)
    highlighted = " ".join(text[a:b] for a, b in dated[0].highlights)
    assert "19 June 2024" in highlighted


def test_confidence_stays_a_cosine_and_support_decides_in_hybrid(seed_index, embedder):
    index = _index(seed_index, embedder)
    for question in ("Who welcomed Belousov in Pyongyang?", "best pizza recipe"):
        answer = index.ask(question, mode="hybrid")
        for passage in answer.passages:
            assert -1 <= passage.confidence <= 1 and 0 < passage.support < 1
            assert passage.low_confidence == (passage.support < answer.support_threshold)
        assert answer.confidence == max(p.confidence for p in answer.passages)
        assert answer.support == max(p.support for p in answer.passages)
        assert answer.threshold == index.settings.query.min_confidence
        assert answer.answered == (answer.support >= answer.support_threshold)
        # confidence means what it meant before the abstainer: the best cosine of the passage or
        # its sentences, the same number dense mode gives the same span
        dense = index.ask(question, mode="dense", k=10)
        cosine = {(p.source, p.start, p.end): p.confidence for p in dense.passages}
        shared = [p for p in answer.passages if (p.source, p.start, p.end) in cosine]
        assert shared
        for passage in shared:
            assert passage.confidence == pytest.approx(cosine[(passage.source, passage.start, passage.end)], abs=1e-6)
    dense = index.ask("Who welcomed Belousov in Pyongyang?", mode="dense")
    assert dense.support is None and dense.support_threshold is None
    assert all(p.support is None for p in dense.passages)
    assert dense.answered == (dense.confidence >= dense.threshold)


def test_the_json_keeps_its_fields(seed_index, embedder):
    index = _index(seed_index, embedder)
    data = index.ask("Who welcomed Belousov in Pyongyang?").to_dict()
    assert {"question", "answered", "confidence", "threshold", "mode", "used_history", "passages"} <= set(data)
    assert data["answered"] and 0 <= data["confidence"] <= 1
