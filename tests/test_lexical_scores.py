"""Our reader of the saved BM25 index scores and ranks exactly as bm25s does, and opening an index
to answer imports neither bm25s nor numba nor scipy."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rag.ingest.documents import load_folder
from rag.store.build import build_index
from rag.store.lexical import FOLDER, LexicalIndex
from tests.conftest import ROOT, SEEDS


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The seeds' paragraphs as passages, indexed by bm25s and saved; and bm25s's own loaded copy."""
    import bm25s

    passages = [p for d in load_folder(SEEDS).documents for p in d.text.split("\n\n") if p.strip()]
    folder = tmp_path_factory.mktemp("lexical")
    LexicalIndex.build(passages).save(folder)
    reference = bm25s.BM25.load(str(folder / FOLDER), mmap=True, show_progress=False)
    return LexicalIndex.load(folder, len(passages)), reference


def questions():
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    seed_lines = [line for d in load_folder(SEEDS).documents for line in d.text.splitlines()]
    return [json.loads(line)["question"] for line in lines if line.strip()] + seed_lines[::3] + [
        "troops troops troops", "NATO nato Nato", "zzzz unknownword", "the of and"]


def test_scores_are_bm25s_scores_bit_for_bit(saved):
    ours, reference = saved
    compared = 0
    for question in questions():
        known = [t for t in ours.query_tokens(question) if t in reference.vocab_dict]
        if not known:
            continue
        assert np.array_equal(ours.scores(known), reference.get_scores(known)), question
        compared += 1
    assert compared > 100


def bm25s_search(reference, tokens, k, allowed):
    """bm25s's scores, masked, and the documented ranking: the best k positive scores, ordered
    by score then id (a full sort: the definition, not the fast path)."""
    known = [t for t in tokens if t in reference.vocab_dict]
    size = reference.scores["num_docs"]
    if not known:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    scores = reference.get_scores(known)
    if allowed is not None:
        mask = np.zeros(size, dtype=bool)
        mask[allowed] = True
        scores = np.where(mask, scores, 0.0)
    top = np.lexsort((np.arange(size), -scores))[:k]
    top = top[scores[top] > 0]
    return scores[top].astype(np.float32), top.astype(np.int64)


def test_ties_across_the_kth_place_go_to_the_lowest_ids():
    from rag.store.lexical import best_ids

    scores = np.array([0.5, 2.0, 0.5, 0.0, 0.5, 3.0, 0.5, 0.0], dtype=np.float32)
    for k in range(1, 9):
        expected = [i for i in np.lexsort((np.arange(8), -scores)) if scores[i] > 0][:k]
        assert best_ids(scores, k).tolist() == expected
    assert best_ids(scores, 3).tolist() == [5, 1, 0]  # 0.5 four times for one place: id 0
    assert best_ids(np.zeros(4, dtype=np.float32), 2).tolist() == []


def test_rankings_are_those_of_bm25s(saved):
    ours, reference = saved
    for question in questions():
        tokens = ours.query_tokens(question)
        for allowed in (None, np.arange(0, ours.size, 3)):
            for k in (5, 20, 100):
                scores, ids = ours.search(tokens, k, allowed)
                expected_scores, expected_ids = bm25s_search(reference, tokens, min(k, ours.size), allowed)
                assert ids.tolist() == expected_ids.tolist(), question
                assert np.array_equal(scores, expected_scores)


def test_a_damaged_lexical_index_says_to_rebuild(saved, tmp_path):
    from rag.errors import IndexCorruptError

    (tmp_path / FOLDER).mkdir()
    with pytest.raises(IndexCorruptError, match="rebuild with `rag index`"):
        LexicalIndex.load(tmp_path, 3)


def test_answering_imports_neither_bm25s_nor_numba_nor_scipy(tiny_settings, keyword_embedder):
    build_index(tiny_settings, embedder=keyword_embedder)
    code = """
import sys
from rag.config import Settings
from rag.index import open_index
from tests.conftest import KeywordEmbedder
settings = Settings.from_env(environ={}, docs_dir=sys.argv[1], index_dir=sys.argv[2], model="keyword-test")
index = open_index(settings=settings, embedder=KeywordEmbedder(sys.argv[3].split()))
for mode in ("lexical", "hybrid"):
    assert index.ask("banana", k=2, mode=mode).passages[0].source == "fruit.txt"
print(sorted({m.split(".")[0] for m in sys.modules} & {"bm25s", "numba", "scipy"}))
"""
    args = [str(tiny_settings.docs_dir), str(tiny_settings.index_dir), " ".join(keyword_embedder.vocabulary)]
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
