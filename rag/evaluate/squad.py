"""Load a SQuAD-format file (`data[].paragraphs[].context`, `qas[].answers[].answer_start`) as
documents and questions of our own format, split by article into `tuning` and `test` halves.

Each paragraph's context becomes a document named `<document_id or position>.txt`; each answer
becomes an AnswerSpan at its character offset, so relevance is span containment, exactly as for
`eval/questions.jsonl`. The split is a pure function of the article ids (sha256 order, first half
tuning): the same file always gives the same halves, and a question is never in both.
Impossible questions (SQuAD 2) are kept as unanswerable ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import EvalDataError
from rag.evaluate.questions import AnswerSpan, Question
from rag.ingest.documents import Document, LoadResult, sha256_bytes

SPLITS = ("tuning", "test")


@dataclass(frozen=True)
class SquadSet:
    """One half of a SQuAD file: its articles as documents, and their questions."""

    name: str
    split: str
    documents: LoadResult
    questions: list[Question]
    misplaced: int = 0
    """Answers whose `answer_start` did not point at their text and were found elsewhere in it."""
    dropped: int = 0
    """Answers whose text is not in the context at all (left out)."""


def is_squad(path: Path) -> bool:
    """True for a .json file whose top level has a `data` list of articles with paragraphs."""
    path = Path(path)
    if not (path.is_file() and path.suffix == ".json"):
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            head = handle.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return '"data"' in head and '"paragraphs"' in head


def load_squad(path: Path, split: str = "test") -> SquadSet:
    """The `split` half ("tuning" or "test", or "all") of the SQuAD file at `path`."""
    path = Path(path)
    if split not in SPLITS + ("all",):
        raise EvalDataError(f"a SQuAD file is split into {' and '.join(SPLITS)} (or all), not {split!r}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise EvalDataError(f"{path} is not a SQuAD-format JSON file ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(a, dict) for a in data):
        raise EvalDataError(f"{path} is not a SQuAD-format JSON file: 'data' must be a list of articles")
    articles: list[tuple[str, str, list]] = []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            if "context" not in paragraph or "qas" not in paragraph:
                raise EvalDataError(f"{path}: article {a}, paragraph {p} lacks 'context' or 'qas'")
            ident = str(paragraph.get("document_id", f"{a}-{p}"))
            articles.append((ident, paragraph["context"], paragraph["qas"]))
    if not articles:
        raise EvalDataError(f"{path} holds no paragraphs")
    order = sorted(articles, key=lambda item: hashlib.sha256(item[0].encode()).hexdigest())
    half = (len(order) + 1) // 2
    halves = {"tuning": order[:half], "test": order[half:], "all": order}
    chosen = halves[split]
    documents, questions = [], []
    misplaced = dropped = 0
    for ident, context, qas in chosen:
        source = f"{ident}.txt"
        documents.append(Document(source, context, sha256_bytes(context.encode("utf-8"))))
        for qa in qas:
            spans = []
            for answer in qa.get("answers", []):
                text, start = answer.get("text", ""), answer.get("answer_start", -1)
                if not text:
                    continue
                if context[start : start + len(text)] != text:
                    found = _nearest(context, text, start)
                    if found is None:
                        dropped += 1
                        continue
                    misplaced += 1
                    start = found
                spans.append(AnswerSpan(source, start, start + len(text)))
            if qa.get("is_impossible") or spans:
                questions.append(Question(
                    id=str(qa.get("id", len(questions))), question=str(qa["question"]),
                    answers=tuple(dict.fromkeys(spans)), kind="squad", split=split,
                ))
    return SquadSet(path.stem, split, LoadResult(documents, [], {d.source: d.sha256 for d in documents}),
                    questions, misplaced, dropped)


def _nearest(context: str, text: str, start: int) -> int | None:
    """The occurrence of `text` in `context` closest to `start`, or None."""
    found, at = [], context.find(text)
    while at != -1:
        found.append(at)
        at = context.find(text, at + 1)
    return min(found, key=lambda f: abs(f - start)) if found else None
