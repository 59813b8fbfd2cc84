"""The corpora `rag bench` indexes and questions: the seeds with our question file, or a BEIR
corpus written out as one text file per document."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError

QUESTIONS = Path("eval/questions.jsonl")


FALLBACK_QUESTIONS = (
    "What did NATO's Secretary General say about North Korean troops in Ukraine?",
    "Who is Mark Rutte?",
    "How many troops did North Korea send to Russia?",
)


@dataclass(frozen=True)
class Corpus:
    """A documents folder to index and the questions to ask it."""

    name: str
    docs_dir: Path
    questions: tuple[str, ...]


def seeds_corpus(docs_dir: Path, questions_file: Path = QUESTIONS) -> Corpus:
    """The seeds with the evaluation questions (or a few fixed ones when the file is absent)."""
    questions: list[str] = []
    if questions_file.is_file():
        for line in questions_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["question"])
    return Corpus("seeds", Path(docs_dir), tuple(questions) or FALLBACK_QUESTIONS)


def beir_corpus(corpus_file: Path, workdir: Path, limit: int | None = None) -> Corpus:
    """A BEIR corpus.jsonl written out as one .txt file per document (title, blank line, text),
    with the queries.jsonl beside it as questions."""
    corpus_file = Path(corpus_file)
    if not corpus_file.is_file():
        raise ConfigError(f"--corpus {corpus_file} is not a file: give a BEIR corpus.jsonl")
    docs = workdir / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    written = 0
    with corpus_file.open(encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and written >= limit:
                break
            if not line.strip():
                continue
            record = json.loads(line)
            name = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(record["_id"]))
            title = (record.get("title") or "").strip()
            text = (record.get("text") or "").strip()
            (docs / f"{name}.txt").write_text(f"{title}\n\n{text}\n" if title else f"{text}\n", encoding="utf-8")
            written += 1
    questions = []
    queries = corpus_file.with_name("queries.jsonl")
    if queries.is_file():
        for line in queries.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["text"])
    return Corpus(f"{corpus_file.parent.name}[{written}]", docs, tuple(questions) or FALLBACK_QUESTIONS)
