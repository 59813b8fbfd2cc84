"""Load a BEIR-format benchmark folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.

Each corpus document becomes a Document whose source is its `_id` and whose text is its title and
text joined by a blank line (as MTEB embeds them), so it is indexed like any other document.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import EvalDataError
from rag.ingest.documents import Document, LoadResult, sha256_bytes

CORPUS, QUERIES, QRELS = "corpus.jsonl", "queries.jsonl", "qrels"


@dataclass(frozen=True)
class BeirSet:
    """A benchmark: its documents, the queries of one split, and their relevance judgements."""

    name: str
    split: str
    documents: LoadResult
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    """query id -> {document id: relevance > 0}."""


def is_beir(path: Path) -> bool:
    """True for a folder laid out as a BEIR benchmark."""
    path = Path(path)
    return path.is_dir() and (path / CORPUS).is_file()


def load_beir(folder: Path, split: str = "test", limit: int | None = None) -> BeirSet:
    """The benchmark in `folder`; `limit` keeps only the first queries (for a quick slice)."""
    folder = Path(folder)
    for needed in (folder / CORPUS, folder / QUERIES, folder / QRELS / f"{split}.tsv"):
        if not needed.is_file():
            raise EvalDataError(f"{needed} is missing: a BEIR folder needs {CORPUS}, {QUERIES} and "
                                f"{QRELS}/<split>.tsv")
    qrels = _qrels(folder / QRELS / f"{split}.tsv")
    queries_all = {row["_id"]: row["text"] for row in _jsonl(folder / QUERIES, ("_id", "text"))}
    missing = sorted(set(qrels) - set(queries_all))
    if missing:
        raise EvalDataError(f"{folder / QRELS / f'{split}.tsv'} judges query {missing[0]!r}, "
                            f"which is not in {QUERIES}")
    ids = sorted(qrels, key=_natural)[:limit] if limit else sorted(qrels, key=_natural)
    documents = []
    for row in _jsonl(folder / CORPUS, ("_id", "text")):
        title = (row.get("title") or "").strip()
        text = f"{title}\n\n{row['text']}" if title else row["text"]
        if text.strip():
            documents.append(Document(str(row["_id"]), text, sha256_bytes(text.encode("utf-8"))))
    return BeirSet(
        name=folder.resolve().name,
        split=split,
        documents=LoadResult(documents, [], {d.source: d.sha256 for d in documents}),
        queries={q: queries_all[q] for q in ids},
        qrels={q: qrels[q] for q in ids},
    )


def _jsonl(path: Path, required: tuple[str, ...]):
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise EvalDataError(f"{path}, line {number}: not valid JSON ({exc})") from None
            if not isinstance(row, dict) or any(name not in row for name in required):
                raise EvalDataError(f"{path}, line {number}: needs the fields {', '.join(required)}")
            row["_id"] = str(row["_id"])
            yield row


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0] == "query-id"):
                continue
            try:
                query, doc, score = row[0], row[1], int(row[2])
            except (IndexError, ValueError):
                raise EvalDataError(
                    f"{path}, line {number}: expected query-id<TAB>corpus-id<TAB>score"
                ) from None
            if score > 0:
                qrels.setdefault(query, {})[doc] = score
    if not qrels:
        raise EvalDataError(f"{path} holds no relevance judgements")
    return qrels


def _natural(text: str):
    return (0, int(text), "") if text.isdigit() else (1, 0, text)
