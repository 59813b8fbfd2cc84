"""The sentence-level dense list of hybrid fusion: passages ranked by their best sentence."""

import numpy as np

from rag.index import open_index
from rag.search.ranking import sentence_passages
from rag.store.build import build_index


def test_passages_rank_by_their_best_sentence():
    # Three sentences; sentence 1 is closest to the query, then 2, then 0.
    sentences = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float16)
    holders = [(0,), (1, 2), (2,)]  # sentence 1 sits in the overlap of passages 1 and 2
    query = np.array([0.0, 1.0], dtype=np.float32)
    # Sentence 1 (cos 1.0) brings passages 1 and 2; sentence 2 (0.8) nothing new; then passage 0.
    assert sentence_passages(query, sentences, holders, depth=10) == [1, 2, 0]
    assert sentence_passages(query, sentences, holders, depth=1) == [1]
    assert sentence_passages(query, sentences, holders, depth=10, allowed=np.array([0, 2])) == [2, 0]


def test_hybrid_with_sentence_weight_still_finds_the_banana(tiny_settings, keyword_embedder):
    settings = tiny_settings.with_overrides(sentence_weight=1.0)
    build_index(settings, embedder=keyword_embedder)
    index = open_index(settings=settings, embedder=keyword_embedder)
    assert index.chunks.sentence_chunks()[0] == (0,)  # the first sentence is in the first passage
    top = index.ask("banana", k=1, mode="hybrid").passages[0]
    assert top.source == "fruit.txt"
