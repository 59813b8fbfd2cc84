"""The `rag` command: a thin shell over the core API. Parses, calls, prints; nothing more.

Exit codes: 0 success; 1 nothing usable (no document indexed); 2 a usage or input error
(RagError), reported as one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_NOTHING, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 terminal never raises on a character
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from rag.errors import RagError

    try:
        return args.run(args)
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), like every other error."""

    def error(self, message: str):
        self.exit(EXIT_ERROR, f"rag: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rag",
        description="Answer questions from a folder of documents with verbatim, cited passages.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = sub.add_parser("index", help="build or refresh the index of a documents folder")
    index.add_argument("docs_dir", nargs="?", type=Path, help="documents folder (default: seeds/)")
    _common(index)
    index.add_argument("--force", action="store_true", help="rebuild even when the index is up to date")
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    index.set_defaults(run=run_index)

    ask = sub.add_parser(
        "ask",
        help="answer a question (or one per line from standard input)",
        description="Answer QUESTION, or each line of standard input when QUESTION is omitted.",
    )
    ask.add_argument("question", nargs="?", help="the question; omit to read one per line from stdin")
    ask.add_argument("-k", type=int, default=None, help="number of passages (default 5)")
    ask.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default=None)
    ask.add_argument("--source", action="append", dest="sources", metavar="FILE",
                     help="only search this document (repeatable)")
    ask.add_argument("--history", action="append", default=[], metavar="QUESTION",
                     help="an earlier question of the conversation (repeatable, oldest first)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question per line")
    _common(ask)
    ask.set_defaults(run=run_ask)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index-dir", type=Path, default=None, help="index folder (default: index/)")
    parser.add_argument("--model", default=None, help="sentence-transformers model name or path")


def _settings(args: argparse.Namespace):
    from rag.config import Settings

    return Settings.from_env(
        docs_dir=getattr(args, "docs_dir", None),
        index_dir=args.index_dir,
        model=args.model,
    )


def run_index(args: argparse.Namespace) -> int:
    from rag.build import build_index
    from rag.errors import DocumentError

    settings = _settings(args)
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    try:
        report = build_index(
            settings, progress=not args.quiet, force=args.force, say=say
        )
    except DocumentError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return EXIT_NOTHING
    if not report.rebuilt:
        print(
            f"index in {settings.index_dir} is up to date ({report.documents} documents, "
            f"{report.passages} passages): nothing to embed"
        )
        return EXIT_OK
    seconds = report.seconds
    print(
        f"indexed {report.documents} documents into {report.passages} passages "
        f"({report.sentences} sentences) in {seconds['total']:.1f}s -> {report.build}"
    )
    if report.skipped:
        print(f"skipped {len(report.skipped)} file(s): see the messages above", file=sys.stderr)
    return EXIT_OK


def run_ask(args: argparse.Namespace) -> int:
    from rag.errors import QueryError
    from rag.index import open_index

    index = open_index(settings=_settings(args))
    history = list(args.history)
    if args.question is not None:
        _answer(index, args.question, args, history)
        return EXIT_OK
    # One bad line of many is reported (one line on stderr) and the rest are still answered.
    failed = 0
    for number, question in _stdin_questions():
        try:
            _answer(index, question, args, history)
        except QueryError as exc:
            failed += 1
            print(f"rag: error: line {number}: {exc}", file=sys.stderr, flush=True)
    return EXIT_ERROR if failed else EXIT_OK


def _answer(index, question: str, args: argparse.Namespace, history: list[str]) -> None:
    answer = index.ask(question, k=args.k, sources=args.sources, mode=args.mode, history=history)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=not _unicode_stdout()), flush=True)
    else:
        print(format_answer(answer), flush=True)


def _unicode_stdout() -> bool:
    """Whether standard output can carry any character (else JSON escapes them as \\uXXXX)."""
    import codecs

    try:
        return codecs.lookup(sys.stdout.encoding or "ascii").name.startswith("utf")
    except LookupError:
        return False


def _stdin_questions():
    """(line number, question) for each non-blank line; undecodable bytes become U+FFFD."""
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    for number, line in enumerate(sys.stdin, start=1):
        if line.strip():
            yield number, line.rstrip("\n")


def format_answer(answer) -> str:
    """A readable rendering: highlighted sentences between » «, each passage cited by file and lines."""
    lines = [f"Q: {answer.question}"]
    if not answer.answered:
        lines.append(
            f"The documents don't answer this (confidence {answer.confidence:.2f} < "
            f"{answer.threshold:.2f}). Closest passages, low confidence:"
        )
    for passage in answer.passages:
        lines.append(
            f"\n[{passage.rank}] {passage.source}, lines {passage.line_start}-{passage.line_end}"
            f"  (confidence {passage.confidence:.2f}{', low' if passage.low_confidence else ''})"
        )
        lines.append(_mark(passage))
    return "\n".join(lines) + "\n"


def _mark(passage) -> str:
    text, out, position = passage.text, [], 0
    for start, end in passage.highlights:
        a, b = start - passage.start, end - passage.start
        out += [text[position:a], "»", text[a:b], "«"]
        position = b
    out.append(text[position:])
    return "".join(out)


if __name__ == "__main__":
    sys.exit(main())
