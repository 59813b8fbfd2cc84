"""The learned ranker's pieces by hand: answer types, follow-up topic changes, the linear models
and their files, IDF coverage from the BM25 matrix (no model needed)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from rag.errors import ConfigError
from rag.search.answer import _highlights
from rag.search.answer_type import expected_type, holds
from rag.search.features import FEATURES, QUERY_FEATURES, Lists, TermStats, query_features
from rag.search.followup import contextualize, helps
from rag.search.rerank import LinearModel, load_model
from rag.store.chunkstore import StoredSentence
from rag.store.lexical import LexicalIndex
from rag.config import QuerySettings


@pytest.mark.parametrize("question, kind", [
    ("When was the treaty signed?", "date"),
    ("In which month did the soldiers arrive?", "date"),
    ("How many troops were sent?", "number"),
    ("What share of the shells comes from Pyongyang?", "number"),
    ("Who greeted the minister?", "name"),
    ("Why is Russia short of soldiers?", None),
])
def test_the_kind_of_answer_a_question_asks_for(question, kind):
    assert expected_type(question) == kind


def test_a_sentence_holds_a_date_a_number_or_a_name():
    assert holds("date", "The pact was signed on 19 June 2024.")
    assert not holds("date", "The pact was signed in the capital.")
    assert holds("number", "About 2,000 of them joined.") and not holds("number", "Many joined.")
    assert holds("name", "He was welcomed by Defence Minister No Kwang-chol.")
    assert not holds("name", "he was welcomed by the minister.") and not holds(None, "x 1")


def test_the_highlight_goes_to_the_sentence_that_holds_the_date():
    # Two sentences, the first repeats the question's words, the second holds the date; with
    # equal cosines (no vectors) the lexical bonus picks the first, the answer-type bonus the second.
    sentences = [StoredSentence(0, 0, 40, False), StoredSentence(1, 41, 80, False)]
    terms = [{"treati", "sign"}, {"sign"}]
    settings = QuerySettings(max_highlights=1, highlight_margin=0.0)
    without, _ = _highlights(sentences, terms, np.zeros(3), {"treati", "sign"}, None, settings)
    with_type, _ = _highlights(sentences, terms, np.zeros(3), {"treati", "sign"}, None, settings, [False, True])
    assert without == ((0, 40),)  # 0.15 * 2/2 beats 0.15 * 1/2
    assert with_type == ((41, 80),)  # 0.075 + 0.1 beats 0.15


def test_a_short_question_on_a_new_topic_does_not_use_the_history():
    context = contextualize("best pizza recipe", ["How many troops did North Korea send?"], 3)
    assert context.uses_history and context.reason == "short"
    same = np.array([1.0, 0.0])
    assert not helps(same, same, context, missing=0.8)  # its terms are unknown to the corpus
    assert helps(same, same, context, missing=0.0)
    pronoun = contextualize("And how much do they get paid?", ["Who profits?"], 2)
    assert pronoun.reason == "reference" and helps(same, same, pronoun, missing=0.9)
    assert not helps(same, np.array([0.0, 1.0]), pronoun)  # unrelated to the previous question


def test_a_linear_model_round_trips_through_its_json_and_a_mismatch_is_refused(tmp_path):
    model = LinearModel("m", ("a", "b"), np.array([1.0, 0.0]), np.array([2.0, 1.0]),
                        np.array([0.5, -1.0]), 0.25, threshold=0.5)
    # ((3 - 1) / 2) * 0.5 + (1 - 0) * -1 + 0.25 = -0.25
    assert model.score(np.array([[3.0, 1.0]]))[0] == pytest.approx(-0.25)
    path = tmp_path / "m.json"
    path.write_text(model.to_json(), encoding="utf-8")
    again = load_model(str(path), ("a", "b"))
    assert again.to_json() == model.to_json() and again.threshold == 0.5
    with pytest.raises(ConfigError, match="retrain"):
        load_model(str(path), ("a", "c"))


def test_the_committed_models_match_the_features_computed():
    load_model("ranker", FEATURES)
    abstain = load_model("abstain", QUERY_FEATURES)
    assert 0 < abstain.threshold < 1


def test_idf_coverage_and_missing_terms_come_from_the_bm25_matrix():
    lexical = LexicalIndex.build(["apple banana", "apple cherry", "river"])
    stats = TermStats(SimpleNamespace(lexical=lexical), lexical.query_tokens("apple cherry pizza"))
    coverage = stats.coverage(np.array([0, 1, 2]))
    n = 3
    idf = {df: np.log(1 + (n - df + 0.5) / (df + 0.5)) for df in (0, 1, 2)}
    total = idf[2] + idf[1] + idf[0]  # apple in 2 passages, cherry in 1, pizza in none
    assert coverage == pytest.approx([idf[2] / total, (idf[2] + idf[1]) / total, 0.0], rel=1e-5)
    assert stats.missing() == pytest.approx(idf[0] / total, rel=1e-6)


def test_query_signals_measure_the_best_cosine_against_this_querys_own_distribution():
    lists = Lists({0: (1, 0.9), 1: (2, 0.5), 2: (3, 0.1)}, {}, {}, 100)
    rows = np.zeros((2, len(FEATURES)), dtype=np.float32)
    rows[0, 0], rows[0, 1] = 0.9, 0.7  # passage 0.9, best sentence 0.7 -> 0.9
    rows[1, 0] = 0.5
    signals = query_features(lists, rows, np.array([2.0, 1.5]), SimpleNamespace(missing=lambda: 0.25))
    dense = np.array([0.9, 0.5, 0.1])
    assert signals[0, 0] == pytest.approx(0.9)
    assert signals[0, 1] == pytest.approx((0.9 - dense.mean()) / dense.std(), rel=1e-5)
    assert signals[0, 2] == pytest.approx(0.25)
    assert signals[0, 5] == pytest.approx(0.5) and signals[1, 5] == pytest.approx(-0.5)
    assert json.dumps(list(QUERY_FEATURES))


def test_the_default_fusion_is_the_one_the_ranker_was_trained_on():
    ranker = load_model("ranker", FEATURES)
    query = QuerySettings()
    trained = ranker.meta["rrf"]
    assert (query.dense_weight, query.lexical_weight, query.sentence_weight, query.rrf_k) == (
        trained["dense_weight"], trained["lexical_weight"], trained["sentence_weight"], trained["rrf_k"])
    assert query.rerank_depth == ranker.meta["rerank_depth"]


def test_probe_level_is_the_mean_best_score_of_the_probes():
    from rag.store.probes import PROBES, probe_level

    def search(vectors, k):
        return np.array([[0.2], [0.4]], dtype=np.float32)[: len(vectors)], np.zeros((2, 1), dtype=np.int64)

    assert probe_level(np.zeros((2, 3)), search) == pytest.approx(0.3)
    assert probe_level(np.zeros((0, 3)), search) == 0.0
    assert len(PROBES) == len(set(PROBES)) >= 10


def test_an_index_without_sentence_vectors_gets_the_passage_ranker(tiny_settings, keyword_embedder):
    from rag.index import open_index
    from rag.store.build import build_index

    settings = tiny_settings.with_overrides(embed_sentences=False)
    build_index(settings, embedder=keyword_embedder)
    index = open_index(settings=settings, embedder=keyword_embedder)
    assert index.sentence_vectors is None
    assert index.ranker.name == "ranker-passages" and index.abstainer is None
    answer = index.ask("banana", k=2)
    assert answer.passages[0].source == "fruit.txt"
    # the abstainer was calibrated on sentence signals: the cosine threshold decides here
    assert answer.support is None and answer.answered == (answer.confidence >= answer.threshold)
    plain = open_index(settings=settings.with_overrides(passage_ranker=""), embedder=keyword_embedder)
    assert plain.ranker is None and plain.ask("banana", k=2).passages[0].source == "fruit.txt"
    with_sentences = tiny_settings
    build_index(with_sentences, embedder=keyword_embedder)
    assert open_index(settings=with_sentences, embedder=keyword_embedder).ranker.name == "ranker"


def test_the_passage_ranker_shares_the_fusion_and_knows_its_stand_ins():
    plain = load_model("ranker-passages", FEATURES)
    assert plain.meta["rrf"] == load_model("ranker", FEATURES).meta["rrf"]
    stand_ins = plain.meta["stand_ins"]
    # a sentence column and its passage stand-in carry the same weight: they are the same values
    for target, source in stand_ins.items():
        assert plain.coef[FEATURES.index(target)] == pytest.approx(plain.coef[FEATURES.index(source)], abs=1e-5)


def test_an_int8_index_reads_the_models_fitted_on_int8_tuning_indexes(tiny_settings, keyword_embedder):
    from rag.index import open_index
    from rag.search.rerank import MODELS, for_backend
    from rag.store.build import build_index
    from tests.conftest import KeywordEmbedder

    assert for_backend("ranker", "onnx-int8") == "ranker-int8" and for_backend("abstain", "onnx-int8") == "abstain-int8"
    assert for_backend("ranker", "onnx") == "ranker" and for_backend("ranker", None) == "ranker"
    assert for_backend("ranker-passages", "onnx-int8") == "ranker-passages"  # none fitted: the float32 one
    assert for_backend("my-ranker.json", "onnx-int8") == "my-ranker.json" and for_backend("", "onnx-int8") == ""
    int8 = KeywordEmbedder(["apple", "banana", "cherry", "river", "mountain", "train"])
    from rag.embed.onnx_backend import INT8_SCHEME

    int8.identity = {**keyword_embedder.identity, "backend": "onnx-int8", "quantization": INT8_SCHEME}
    settings = tiny_settings.with_overrides(backend="onnx-int8")
    build_index(settings, embedder=int8)
    index = open_index(settings=settings, embedder=int8)
    assert index.ranker.name == "ranker-int8" and index.abstainer.name == "abstain-int8"
    assert index.ranker.meta["rrf"] == load_model("ranker", FEATURES).meta["rrf"]  # the same fusion under it
    assert index.ask("banana", k=2).passages[0].source == "fruit.txt"
    own = open_index(settings=settings.with_overrides(ranker="ranker", abstainer=str(MODELS / "abstain.json")),
                     embedder=int8)
    assert own.abstainer.name == "abstain"  # a path is used as given
