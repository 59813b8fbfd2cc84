"""Property-based tests (hypothesis): the chunker's offsets on any text, and question handling
that never raises anything but QueryError, on an index built with the keyword embedder."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.config import ChunkingSettings, Settings
from rag.errors import QueryError
from rag.index import open_index
from rag.ingest.chunking import Chunker
from rag.ingest.documents import Document, line_of, line_starts
from rag.search.answer import Answer
from rag.store.build import build_index
from tests.conftest import KeywordEmbedder

# Text that exercises the segmenter: words, sentence ends, quotes, headings, odd whitespace,
# other scripts and emoji, plus anything else hypothesis likes.
PIECES = st.sampled_from(
    ["The", "apple", "Dr.", "U.S.", "river", "e.g.", "Köln", "東京", "😀", "—", "#", "Part 2:",
     ".", "!", "?", "…", "\"", "'", "(", ")", " ", "  ", "\n", "\n\n", "\t", "\r\n", "\u00a0",
     "\u2028", "x" * 300, "word " * 40]
)
TEXTS = st.one_of(
    st.lists(PIECES, max_size=120).map("".join),
    st.text(max_size=800),
)
WORD_PIECES_MAX = 30


def word_counter(texts):
    """A stand-in for the model's tokenizer: one word piece per word."""
    return [len(t.split()) for t in texts]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(16, 80), overlap=st.integers(0, 40))
def test_chunker_offsets_are_exact_bounded_and_cover_the_text(text, max_tokens, overlap):
    overlap = min(overlap, max_tokens - 1)
    chunker = Chunker(
        ChunkingSettings(max_tokens=max_tokens, overlap_tokens=overlap, min_section_tokens=8),
        word_counter,
        WORD_PIECES_MAX,
    )
    document = Document("doc.txt", text, "sha")
    sentences = chunker.sentences(document)
    chunks = chunker.chunk(document, sentences)
    starts = line_starts(text)

    previous_end = 0
    for sentence in sentences:  # in order, inside the text, trimmed, not overlapping
        piece = text[sentence.start : sentence.end]
        assert previous_end <= sentence.start < sentence.end <= len(text)
        assert piece == piece.strip() and piece
        previous_end = sentence.end

    covered = bytearray(len(text))
    for chunk in chunks:
        piece = text[chunk.start : chunk.end]
        assert 0 <= chunk.start < chunk.end <= len(text)
        assert piece == piece.strip() and piece
        assert chunker.count_tokens([piece])[0] <= max_tokens
        assert word_counter([piece])[0] <= WORD_PIECES_MAX
        assert chunk.line_start == line_of(starts, chunk.start)
        assert chunk.line_end == line_of(starts, chunk.end - 1)
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    missed = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missed, f"characters not in any passage at {missed[:5]}"
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


@pytest.fixture(scope="module")
def keyword_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("props")
    docs = root / "docs"
    docs.mkdir()
    (docs / "fruit.txt").write_text(
        "Fruit\n\nThe apple grows on trees. A banana is yellow and sweet.\n"
        "Cherry trees flower in spring. 東京 has apple shops 😀.\n", encoding="utf-8")
    (docs / "travel.md").write_text(
        "# Travel\n\nThe train follows the river. Then it climbs the mountain.\n", encoding="utf-8")
    settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=root / "index", model="keyword-test")
    embedder = KeywordEmbedder(["apple", "banana", "cherry", "river", "mountain", "train"])
    build_index(settings, embedder=embedder)
    return open_index(settings=settings, embedder=embedder)


ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(-10, 10_000), st.floats(),
                     st.text(max_size=5), st.lists(st.text(max_size=12), max_size=3))


@settings(max_examples=300, deadline=None)
@given(
    question=st.one_of(TEXTS, st.text(max_size=3000), ANYTHING),
    k=st.one_of(st.none(), st.integers(-3, 60), ANYTHING),
    mode=st.one_of(st.none(), st.sampled_from(["hybrid", "dense", "lexical"]), ANYTHING),
    sources=st.one_of(st.none(), st.just(["fruit.txt"]), ANYTHING),
    history=st.one_of(st.just([]), st.lists(TEXTS, max_size=3), ANYTHING),
)
def test_ask_raises_only_query_errors_and_answers_are_exact(keyword_index, question, k, mode,
                                                           sources, history):
    try:
        answer = keyword_index.ask(question, k=k, sources=sources, mode=mode, history=history)
    except QueryError as exc:
        assert str(exc)  # a message, never an empty error
        return
    assert isinstance(answer, Answer)
    assert len(answer.passages) <= (k or keyword_index.settings.query.k)
    for passage in answer.passages:
        text = keyword_index.document_text(passage.source)
        assert text[passage.start : passage.end] == passage.text
        assert all(passage.start <= a < b <= passage.end for a, b in passage.highlights)
    answer.to_dict()


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.text(alphabet=st.characters(max_codepoint=255), max_size=200).map(lambda t: t.encode("latin-1")),
    st.text(max_size=100).map(lambda t: t.encode("utf-16")),
))
def test_any_bytes_decode_to_the_exact_text_or_a_reason(data):
    from rag.ingest.documents import decode_document

    document, reason = decode_document("f.txt", data)
    if document is None:
        assert reason and ("not indexed" in reason or "nothing to index" in reason)
        return
    assert reason == "" and document.text.strip()
    # Nothing is altered: the text encodes back to the file's bytes (the BOM aside).
    if document.encoding in ("utf-16", "utf-32"):
        assert data.decode(document.encoding) == document.text  # the mark is consumed
    else:
        assert document.text.encode(document.encoding) == data
