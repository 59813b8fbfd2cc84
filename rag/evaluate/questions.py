"""Our own question format for `rag eval`: JSONL, one question per line, answers as exact text.

    {"id": "q001", "question": "...", "answers": [{"file": "004_x.txt", "text": "exact words"}],
     "kind": "fact", "split": "dev", "history": ["an earlier question"]}

`answers: []` marks a question the documents cannot answer. Each answer's `text` must occur
verbatim in its `file`; it becomes character spans there (every occurrence, or only the one at
`start` when an answer gives that character offset), so judgements do not depend on how the
documents are chunked. `kind`, `split` and `history` are optional.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rag.errors import EvalDataError

REQUIRED = ("id", "question", "answers")


@dataclass(frozen=True)
class AnswerSpan:
    """Where an answer lies: [start, end) in a source file."""

    source: str
    start: int
    end: int


@dataclass(frozen=True)
class Question:
    """One evaluation question; `answers` holds every occurrence of every answer text."""

    id: str
    question: str
    answers: tuple[AnswerSpan, ...]
    kind: str = ""
    split: str = ""
    history: tuple[str, ...] = ()
    line: int = 0

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_questions(path: Path, read_source: Callable[[str], str]) -> list[Question]:
    """Parse and check a question file; any problem is an EvalDataError naming the line.

    `read_source(file)` returns a document's text (KeyError when it is not indexed).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read the question file {path}: {exc}") from None
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        questions.append(_parse(line, where, number, read_source))
        if questions[-1].id in seen:
            raise EvalDataError(f"{where}: the id {questions[-1].id!r} is used twice; ids must be unique")
        seen.add(questions[-1].id)
    if not questions:
        raise EvalDataError(f"{path} holds no questions: write one JSON object per line")
    return questions


def _parse(line: str, where: str, number: int, read_source: Callable[[str], str]) -> Question:
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise EvalDataError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(row, dict):
        raise EvalDataError(f"{where}: expected a JSON object with {', '.join(REQUIRED)}")
    missing = [name for name in REQUIRED if name not in row]
    if missing:
        raise EvalDataError(f"{where}: missing field {', '.join(map(repr, missing))}")
    if not isinstance(row["question"], str) or not row["question"].strip():
        raise EvalDataError(f"{where}: 'question' must be non-empty text")
    if not isinstance(row["answers"], list):
        raise EvalDataError(f"{where}: 'answers' must be a list ([] for an unanswerable question)")
    history = row.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise EvalDataError(f"{where}: 'history' must be a list of earlier questions")
    spans: list[AnswerSpan] = []
    for answer in row["answers"]:
        if not isinstance(answer, dict) or not isinstance(answer.get("file"), str) or not isinstance(
            answer.get("text"), str
        ) or not answer["text"]:
            raise EvalDataError(f"{where}: each answer needs a 'file' and a non-empty 'text'")
        try:
            text = read_source(answer["file"])
        except KeyError:
            raise EvalDataError(
                f"{where}: the answer file {answer['file']!r} is not an indexed document"
            ) from None
        start = answer.get("start")
        if start is not None:
            if isinstance(start, bool) or not isinstance(start, int) or start < 0:
                raise EvalDataError(f"{where}: an answer's 'start' must be a character offset (>= 0)")
            if text[start : start + len(answer["text"])] != answer["text"]:
                raise EvalDataError(
                    f"{where}: the answer text {answer['text'][:60]!r} is not at offset {start} of "
                    f"{answer['file']}"
                )
            found = [start]
        else:
            found = _occurrences(text, answer["text"])
        if not found:
            raise EvalDataError(
                f"{where}: the answer text {answer['text'][:60]!r} is not found in "
                f"{answer['file']}; copy it exactly from the file"
            )
        spans.extend(AnswerSpan(answer["file"], start, start + len(answer["text"])) for start in found)
    return Question(
        id=str(row["id"]),
        question=row["question"],
        answers=tuple(spans),
        kind=str(row.get("kind", "")),
        split=str(row.get("split", "")),
        history=tuple(history),
        line=number,
    )


def _occurrences(text: str, needle: str) -> list[int]:
    found, start = [], text.find(needle)
    while start != -1:
        found.append(start)
        start = text.find(needle, start + 1)
    return found
