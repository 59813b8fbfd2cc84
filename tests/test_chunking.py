import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.config import ChunkingSettings
from rag.ingest.chunking import Chunker, load_encoding
from rag.ingest.documents import Document, line_of, line_starts, load_folder
from rag.ingest.sentences import normalize
from rag.ingest.wordpieces import WordPieceCounter
from tests.conftest import ROOT, SEEDS
from tests.test_properties import TEXTS
from tests.test_wordpieces import bundled_tokenizer, own_counts


def chunks_of(text, **settings):
    document = Document("doc.txt", text, "sha")
    chunker = Chunker(ChunkingSettings(**settings))
    return chunker, document, chunker.chunk(document)


def test_passages_are_exact_spans_with_line_ranges():
    text = "Title line\n\n" + " ".join(f"Sentence number {i} is here." for i in range(60))
    chunker, document, chunks = chunks_of(text, max_tokens=40, overlap_tokens=8)
    assert len(chunks) > 3
    starts = line_starts(text)
    for chunk in chunks:
        piece = text[chunk.start : chunk.end]
        assert piece == piece.strip() and piece
        assert chunk.line_start == line_of(starts, chunk.start)
        assert chunker.count_tokens([piece])[0] <= 40


def test_consecutive_passages_overlap_by_whole_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    _, _, chunks = chunks_of(text, max_tokens=40, overlap_tokens=8, min_section_tokens=10)
    for before, after in zip(chunks, chunks[1:]):
        assert after.start < before.end  # overlap
        assert text[after.start : before.end].endswith(".")  # at a sentence boundary


def test_every_sentence_is_in_some_passage():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    _, _, chunks = chunks_of(text, max_tokens=40, overlap_tokens=8)
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_a_heading_opens_its_section_and_never_ends_a_passage():
    body = " ".join(f"Body sentence {i} goes here." for i in range(8))
    text = f"First Part\n\n{body}\n\nSecond Part\n\n{body}"
    _, document, chunks = chunks_of(text, max_tokens=200, overlap_tokens=20, min_section_tokens=30)
    second = text.index("Second Part")
    assert any(c.start == second for c in chunks)
    assert not any(text[c.start : c.end].endswith("Second Part") for c in chunks)


def test_a_sentence_longer_than_a_passage_is_cut_at_spaces():
    text = "word " * 3000 + "end."
    chunker, _, chunks = chunks_of(text, max_tokens=50, overlap_tokens=0)
    assert all(chunker.count_tokens([text[c.start : c.end]])[0] <= 50 for c in chunks)
    for c in chunks:  # cut between words, never inside one
        assert c.start == 0 or text[c.start - 1] == " "
        assert c.end == len(text) or text[c.end] == " "


def test_model_word_piece_limit_is_respected():
    text = " ".join(f"Sentence {i} has five words." for i in range(50))
    document = Document("d.txt", text, "sha")
    # A pretend model whose limit (12 pieces, one per word) is tighter than max_tokens.
    chunker = Chunker(ChunkingSettings(max_tokens=100, overlap_tokens=0),
                      lambda texts: [len(t.split()) for t in texts], 12)
    for chunk in chunker.chunk(document):
        assert len(text[chunk.start : chunk.end].split()) <= 12


# -- counting each sentence once gives the passages of counting each passage whole ---------------

@pytest.fixture(scope="module")
def tokenizer():
    return bundled_tokenizer()


class RecountingChunker(Chunker):
    """The chunker before counts were summed: every sentence and every candidate passage is
    counted whole, by cl100k and by the tokenizer itself. The reference the fast path must equal."""

    def _unit_tokens(self, pieces):
        encode = self._encoding.encode_ordinary
        return [(len(encode(p)), len(encode(" " + p))) for p in pieces]

    def _units_fit(self, text, units, a, b):
        return self._fits(text[units[a].start : units[b - 1].end])


def test_seed_passages_are_those_of_the_chunker_that_counted_every_passage_whole(tokenizer):
    # tests/fixtures/seed_passages.json: the seeds' passages as chunked at commit 166990a (before
    # sentence counts were summed), with these settings and MiniLM's word pieces (254 at most).
    counter = WordPieceCounter(tokenizer)
    chunker = Chunker(ChunkingSettings(max_tokens=128, overlap_tokens=32, min_section_tokens=60),
                      counter, 254, counter.adds_up)
    expected = json.loads((ROOT / "tests" / "fixtures" / "seed_passages.json").read_text())
    got = {
        d.source: [[c.start, c.end] for c in chunker.chunk(d)] for d in load_folder(SEEDS).documents
    }
    assert got == expected


# Sentences opening with what cl100k counts differently after a space ("5" is one token, " 5" two;
# "Köln" three, " Köln" two), so a passage's size is not the sum of its sentences' own sizes.
SENTENCES = st.lists(
    st.tuples(
        st.sampled_from(["5", "(p", "'s", "Köln", "😀", "1990s", "3.5", "The", "“Quote", "東京"]),
        st.lists(st.sampled_from(["cells", "of", "12", "naïve", "x" * 30, "—", "Dr."]), max_size=12),
        st.sampled_from([".", "!", "?", ""]),
        st.sampled_from([" ", "  ", "\n", "\n\n"]),
    ).map(lambda s: " ".join([s[0], *s[1]]) + s[2] + s[3]),
    max_size=40,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(TEXTS, SENTENCES), max_tokens=st.integers(16, 60), overlap=st.integers(0, 30),
       model_max=st.sampled_from([12, 40, 254]))
def test_summed_sentence_counts_give_the_passages_of_whole_passage_counts(
    tokenizer, text, max_tokens, overlap, model_max
):
    counter = WordPieceCounter(tokenizer)
    chunking = ChunkingSettings(max_tokens=max_tokens, overlap_tokens=min(overlap, max_tokens - 1),
                                min_section_tokens=8)
    document = Document("doc.txt", text, "sha")
    fast = Chunker(chunking, counter, model_max, counter.adds_up).chunk(document)
    reference = RecountingChunker(chunking, lambda texts: own_counts(tokenizer, texts), model_max)
    assert fast == reference.chunk(document)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.one_of(TEXTS, SENTENCES), min_size=1, max_size=5))
def test_sentence_tokens_summed_by_word_are_the_sentence_tokens(texts):
    chunker = Chunker(ChunkingSettings())
    encode = chunker._encoding.encode_ordinary
    pieces = [p for p in map(normalize, texts) if p]
    for _ in range(2):  # then from the remembered words
        assert chunker._unit_tokens(pieces) == [(len(encode(p)), len(encode(" " + p))) for p in pieces]


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=6))
def test_cl100k_tokens_of_sentences_joined_by_a_space_add_up(parts):
    encode = load_encoding().encode_ordinary
    parts = [p for p in map(normalize, parts) if p]
    joined = len(encode(" ".join(parts)))
    assert joined == sum(len(encode(p)) for p in parts[:1]) + sum(len(encode(" " + p)) for p in parts[1:])
