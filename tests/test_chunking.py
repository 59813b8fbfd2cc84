from rag.chunking import Chunker
from rag.config import ChunkingSettings
from rag.documents import Document, line_of, line_starts


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
