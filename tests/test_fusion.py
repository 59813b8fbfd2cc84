import pytest

from rag.search.fusion import reciprocal_rank_fusion


def test_rrf_by_hand():
    # k=1: id 7 is 1st in dense (1/2) and 2nd in lexical (1/3): 0.8333
    #      id 3 is 2nd in dense (1/3) only: 0.3333; id 9 is 1st in lexical (1/2) only: 0.5
    fused = reciprocal_rank_fusion({"dense": [7, 3], "lexical": [9, 7]}, k=1)
    assert [i for i, _ in fused] == [7, 9, 3]
    assert fused[0][1] == pytest.approx(1 / 2 + 1 / 3)


def test_rrf_weights_and_deterministic_ties():
    # Equal scores are ordered by id.
    assert [i for i, _ in reciprocal_rank_fusion({"a": [5], "b": [2]}, k=60)] == [2, 5]
    # A zero weight removes that list entirely.
    assert reciprocal_rank_fusion({"a": [5], "b": [2]}, {"b": 0.0}) == [(5, pytest.approx(1 / 61))]
