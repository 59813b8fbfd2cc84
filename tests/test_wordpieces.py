"""The fast word-piece counter gives exactly the tokenizer's own counts."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.config import DEFAULT_MODEL
from rag.embed.embedder import resolve_model
from rag.ingest.sentences import normalize, split_sentences
from rag.ingest.wordpieces import WordPieceCounter, pieces_add_up
from tests.conftest import SEEDS

TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(
        ["Köln", "naïve", "東京", "😀", "[SEP]", "[sep]", "[MASK]x", "##ing", "p<0.05", "e.g.", "x" * 120,
         "\u0301", "a\u0301", "\x00", "\x07", "\ufffd", "İstanbul", "ΣΊΣΥΦΟΣ", " ", "  ", "\n", "\t", "\u00a0"]
    ), max_size=40).map(" ".join),
)


def bundled_tokenizer():
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(resolve_model(DEFAULT_MODEL).location) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def own_counts(tokenizer, texts):
    return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


@pytest.fixture(scope="module")
def tokenizer():
    return bundled_tokenizer()


def test_minilm_pieces_add_up_and_the_counter_counts_the_seeds_like_the_tokenizer(tokenizer):
    counter = WordPieceCounter(tokenizer)
    assert counter.adds_up and pieces_add_up(tokenizer)
    texts = []
    for path in sorted(SEEDS.iterdir()):
        text = path.read_text(encoding="utf-8")
        texts += [normalize(text[s.start : s.end]) for s in split_sentences(text)] + [text]
    expected = own_counts(tokenizer, texts)
    assert counter(texts) == expected
    assert counter(texts) == expected  # again, from the remembered words


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(TEXTS, min_size=1, max_size=4))
def test_counter_equals_the_tokenizer_on_any_text(tokenizer, texts):
    counter = WordPieceCounter(tokenizer)
    assert counter(texts) == own_counts(tokenizer, texts)
    assert counter(texts) == own_counts(tokenizer, texts)


def test_a_tokenizer_whose_pieces_do_not_add_up_is_counted_whole():
    from tokenizers import Tokenizer, models, pre_tokenizers

    # Splitting on nothing: "a b" is one piece, not two, so counts must not be summed by word.
    tokenizer = Tokenizer(models.WordLevel({"a": 0, "b": 1, "a b": 2, "[UNK]": 3}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("\n", "removed")
    counter = WordPieceCounter(tokenizer)
    assert not counter.adds_up
    assert counter(["a b", "a", "a\nb"]) == [1, 1, 2]
