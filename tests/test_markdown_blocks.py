"""Markdown: fenced code blocks and pipe tables stay whole in one passage where they fit, headings
still open sections, and every passage is an exact slice of the file (read from real files)."""

from __future__ import annotations

from rag.config import ChunkingSettings
from rag.ingest import markdown
from rag.ingest.chunking import Chunker
from rag.ingest.documents import load_folder

PROSE = " ".join(f"Prose sentence {i} explains how the deployment tool behaves." for i in range(10))
CODE = ("```python\ndef handler(event)\n    total = 0\n    for item in event\n"
        "        total += item\n    return total\n```")
TABLE = ("| Port | Service |\n| ---- | :-----: |\n| 22 | ssh |\n| 80 | http |\n"
         "| 443 | https |\n| 5432 | postgres |")
SETTINGS = ChunkingSettings(max_tokens=64, overlap_tokens=8, min_section_tokens=10)


def passages(tmp_path, name: str, text: str, settings: ChunkingSettings = SETTINGS):
    docs = tmp_path / name.replace(".", "-")  # one file per folder
    docs.mkdir()
    (docs / name).write_bytes(text.encode("utf-8"))
    [document] = load_folder(docs).documents
    assert document.text == (docs / name).read_bytes().decode("utf-8")
    chunker = Chunker(settings)
    return document, chunker, chunker.chunk(document)


def holding(document, chunks, piece: str):
    start = document.text.index(piece)
    return [c for c in chunks if c.start <= start and start + len(piece) <= c.end]


def test_code_blocks_and_tables_stay_whole_where_they_fit(tmp_path):
    text = f"# Deployment guide\n\n{PROSE}\n\n{CODE}\n\n{PROSE}\n\n{TABLE}\n\nThat is all.\n"
    document, chunker, chunks = passages(tmp_path, "guide.md", text)
    assert document.kind == "markdown"
    assert holding(document, chunks, CODE) and holding(document, chunks, TABLE)
    for chunk in chunks:
        piece = document.text[chunk.start:chunk.end]
        assert chunker.count_tokens([piece])[0] <= SETTINGS.max_tokens
        for block in (CODE, TABLE):  # a passage holds all of a block or none of it
            at = document.text.index(block)
            overlaps = chunk.start < at + len(block) and at < chunk.end
            assert not overlaps or (chunk.start <= at and at + len(block) <= chunk.end), piece
    # The heading still opens the first passage; no line of code or of the table is a heading.
    assert chunks[0].start == 0
    inside = markdown.blocks(document.text)
    for sentence in chunker.sentences(document):
        if any(a <= sentence.start < b for a, b in inside):
            assert not sentence.heading, document.text[sentence.start:sentence.end]


def test_the_same_text_as_plain_text_is_cut_inside_the_code(tmp_path):
    # What the Markdown rule changes: read as .txt the block is cut across passages; read as .md
    # the same bytes give a passage holding all of it.
    text = f"{PROSE[:PROSE.index('Prose sentence 3')]}\n\n{CODE}\n\n{PROSE}\n"
    settings = ChunkingSettings(max_tokens=64, overlap_tokens=8, min_section_tokens=64)
    document, _, chunks = passages(tmp_path, "guide.txt", text, settings)
    assert document.kind == "text"
    assert not holding(document, chunks, CODE)
    document, _, chunks = passages(tmp_path, "guide.md", text, settings)
    assert holding(document, chunks, CODE)


def test_a_block_larger_than_a_passage_is_cut_into_passages_that_fit(tmp_path):
    long_code = "```\n" + "\n".join(f"step_{i} = run(step_{i - 1}, retries=3)" for i in range(1, 60)) + "\n```"
    text = f"# Steps\n\n{long_code}\n\nAfter the steps the job ends.\n"
    document, chunker, chunks = passages(tmp_path, "steps.md", text)
    assert len(chunks) > 3
    covered = set()
    for chunk in chunks:
        assert chunker.count_tokens([document.text[chunk.start:chunk.end]])[0] <= SETTINGS.max_tokens
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(document.text) if not ch.isspace())


def test_fences_follow_commonmark():
    text = ("Intro line.\n\n~~~~\nnot closed by ```\n~~~\nstill code\n~~~~\n\nAfter.\n\n"
            "``` inline ``` is no fence\n\n```\nunclosed to the end\n")
    found = [text[a:b] for a, b in markdown.blocks(text)]
    assert found == ["~~~~\nnot closed by ```\n~~~\nstill code\n~~~~", "```\nunclosed to the end"]


def test_a_table_needs_its_delimiter_row_and_a_sentence_never_crosses_a_block_edge():
    text = "a | b is not a table\nplain line\n\nText before.\n| x | y |\n|---|---|\n| 1 | 2 |\nText after.\n"
    found = [text[a:b] for a, b in markdown.blocks(text)]
    assert found == ["| x | y |\n|---|---|\n| 1 | 2 |"]
    (a, b), = markdown.blocks(text)
    for sentence in markdown.split_sentences_markdown(text):
        assert sentence.end <= a or sentence.start >= b or (a <= sentence.start and sentence.end <= b)


def test_a_hard_wrapped_file_with_a_block_inside_a_paragraph(tmp_path):
    # Hard-wrapped prose (single newlines are soft) runs into a fence with no blank line before it.
    wrapped = "\n".join(["The service reads its settings from a file in the home folder and"] * 10)
    text = f"{wrapped}:\n```\nport = 8080\nhost = 127.0.0.1\n```\n{wrapped}.\n"
    document, _, chunks = passages(tmp_path, "wrapped.md", text)
    block = "```\nport = 8080\nhost = 127.0.0.1\n```"
    assert holding(document, chunks, block)
    for chunk in chunks:
        assert document.text[chunk.start:chunk.end].strip() == document.text[chunk.start:chunk.end]
