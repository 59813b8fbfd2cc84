"""The query-time term extractor gives exactly bm25s's tokens (else queries would miss the vocabulary)."""

from rag.ingest.documents import load_folder
from rag.store.lexical import QueryTerms, _stemmer, tokenize
from tests.conftest import SEEDS


def test_query_terms_equal_bm25s_tokenize_on_every_seed_line_and_tricky_text():
    texts = [line for d in load_folder(SEEDS).documents for line in d.text.splitlines()]
    texts += ["", "a", "The U.S. and NATO's 10,000 troops!", "naïve café — über Straße", "x1 y_2 __init__",
              "Running runners ran; RUN.", "  spaced\n\nout   text  "]
    stemmer = _stemmer()
    terms = QueryTerms(stemmer)
    assert terms(texts) == tokenize(texts, stemmer)
    assert terms(texts[:3]) == tokenize(texts[:3], stemmer)  # remembered stems give the same answer


def test_remembered_terms_stay_equal_after_the_memory_is_full():
    texts = [line for d in load_folder(SEEDS).documents for line in d.text.splitlines() if line.strip()]
    stemmer = _stemmer()
    expected = tokenize(texts, stemmer)
    terms = QueryTerms(stemmer, remember=50)  # far fewer than the seeds' words: cleared many times
    for start in range(0, len(texts), 7):
        assert terms(texts[start : start + 7]) == expected[start : start + 7]
        assert terms.sets(texts[start : start + 7]) == [frozenset(t) for t in expected[start : start + 7]]
    assert terms.sets(texts[:3]) == [frozenset(t) for t in expected[:3]]  # the remembered sets
