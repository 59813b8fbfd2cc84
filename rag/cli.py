"""The `rag` command: a thin shell over the core API. Parses, calls, prints; nothing more.

Exit codes: 0 success; 1 nothing usable (no document indexed); 2 a usage or input error
(RagError), reported as one line on stderr; 141 (as for SIGPIPE) when the reader of standard
output went away (`rag ask --json | head -1`), quietly, as Unix tools do.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from functools import partial
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_NOTHING, EXIT_ERROR, EXIT_BROKEN_PIPE = 0, 1, 2, 141
DEFAULT_BENCH_OUTPUT = Path("benchmarks/results/latest.json")


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 terminal never raises on a character
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    _show_only_our_messages()
    from rag.errors import RagError

    try:
        code = args.run(args)
        sys.stdout.flush()  # a reader gone after the last line fails here, not at exit
        return code
    except BrokenPipeError:
        # Nothing more can be written; later flushes (at exit too) go to /dev/null, silently.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


class _OurMessages(logging.Filter):
    """Our own warnings, and a library's only when it is an error: libraries log their progress
    (bm25s sets its logger to DEBUG and says "Building index from tokens" on every build)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == "rag" or record.name.startswith("rag.")
        return record.levelno >= (logging.WARNING if ours else logging.ERROR)


def _show_only_our_messages() -> None:
    """Like logging.basicConfig (nothing changes where a handler is already set, as under pytest),
    with `_OurMessages` on the terminal's handler."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(_OurMessages())
        root.addHandler(handler)
    root.setLevel(logging.WARNING)


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
    index.add_argument("--watch", action="store_true",
                       help="keep running: rebuild (only new text is embedded) whenever a document changes")
    index.add_argument("--interval", type=float, default=2.0, help="seconds between checks with --watch")
    index.add_argument("--workers", type=int, metavar="N", help="embed on N Ray workers (pip install '.[distributed]')")
    index.add_argument("--ray-address", metavar="ADDRESS", help="embed on this running Ray cluster instead")
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

    bench = sub.add_parser(
        "bench",
        help="measure model load, index build, query latency and memory",
        description="Build throw-away indexes of the seeds (and of a BEIR corpus with --corpus), time "
        "questions in every mode in-process and through the HTTP API, print a table and write the "
        "figures as JSON.",
    )
    bench.add_argument("docs_dir", nargs="?", type=Path, help="documents folder (default: seeds/)")
    bench.add_argument("--corpus", type=Path, default=None, metavar="CORPUS_JSONL",
                       help="also benchmark a BEIR corpus.jsonl (its queries.jsonl gives the questions)")
    bench.add_argument("--limit", type=int, default=None, metavar="N",
                       help="only the first N documents of --corpus")
    bench.add_argument("--queries", type=int, default=100, help="distinct questions per mode (default 100)")
    bench.add_argument("--no-seeds", action="store_true", help="skip the seeds (only --corpus)")
    bench.add_argument("--no-startup", action="store_true", help="skip the start-up timings")
    bench.add_argument("--no-http", action="store_true",
                       help="skip the latency through the HTTP API (a local server in a child process)")
    bench.add_argument("--scale", type=int, action="append", default=[], metavar="N",
                       help="also time FAISS index types on N vectors: real ones of --scale-corpus plus "
                            "synthetic ones with their statistics (repeatable, e.g. 100000)")
    bench.add_argument("--scale-index", action="append", default=[], metavar="FACTORY[@EFC]",
                       help="FAISS factory string to compare with exact search at --scale, HNSW "
                            "efConstruction after @ (e.g. HNSW32@200, IVF4096,Flat; default HNSW32@200)")
    bench.add_argument("--scale-ef", type=_int_list, default=[64, 128, 256], metavar="N,N",
                       help="HNSW efSearch values to sweep (default 64,128,256)")
    bench.add_argument("--scale-nprobe", type=_int_list, default=[16, 32, 64], metavar="N,N",
                       help="IVF nprobe values to sweep (default 16,32,64)")
    bench.add_argument("--scale-corpus", type=Path, default=None, metavar="CORPUS_JSONL",
                       help="BEIR corpus.jsonl whose passages (embedded once, cached) give the real vectors")
    bench.add_argument("--scale-text", type=int, action="append", default=[], metavar="N",
                       help="also build and time the BM25 index and chunk store of N synthetic passages")
    bench.add_argument("--milvus", type=int, action="append", default=[], metavar="N",
                       help="also time Milvus Lite and the 2.3.5 server beside FAISS on N synthetic vectors")
    bench.add_argument("--peers", default=None, metavar="PYTHON",
                       help="also time LangChain and txtai with this interpreter of a separate environment")
    bench.add_argument("--output", type=Path, default=DEFAULT_BENCH_OUTPUT,
                       help=f"where to write the JSON (default {DEFAULT_BENCH_OUTPUT})")
    bench.add_argument("--model", default=None, help="sentence-transformers model name or path")
    bench.add_argument("--backend", choices=("torch", "onnx", "onnx-int8"), default=None,
                       help="how the model runs (default onnx)")
    bench.set_defaults(run=run_bench, index_dir=None)

    ev = sub.add_parser(
        "eval",
        help="measure retrieval on a question file (JSONL), a SQuAD file (.json) or a BEIR folder",
        description="Measure retrieval through the same API as `rag ask`: on our question format "
        "(JSONL: id, question, answers [{file, text}]) over DOCS_DIR, or on a BEIR folder "
        "(corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) indexed into its own folder.",
    )
    ev.add_argument("data", type=Path, help="a .jsonl question file, or a BEIR folder")
    ev.add_argument("--mode", choices=("hybrid", "dense", "lexical", "all"), default="all")
    ev.add_argument("--split", default=None,
                    help="question file: only this split (dev, test); SQuAD: tuning or test half (default "
                         "test); BEIR: the qrels split (test)")
    ev.add_argument("--docs-dir", type=Path, default=None, help="documents of a question file (default: seeds/)")
    ev.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                    help="override a setting for this run, e.g. max_tokens=96 or rrf_k=20 (repeatable)")
    ev.add_argument("--limit", type=int, default=None, help="BEIR: only the first N queries")
    ev.add_argument("--unanswerable", type=Path, default=None, metavar="FILE.jsonl",
                    help="SQuAD file: unanswerable questions (our format, answers []) of the same split")
    ev.add_argument("--json", action="store_true", help="the report as one JSON object")
    ev.add_argument("--questions", action="store_true", help="with --json: every question's outcome too")
    ev.add_argument("--plot", type=Path, default=None, metavar="FILE.png", help="write the recall@k plot")
    _common(ev)
    ev.set_defaults(run=run_eval)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index-dir", type=Path, default=None, help="index folder (default: index/)")
    parser.add_argument("--model", default=None, help="sentence-transformers model name or path")
    parser.add_argument("--backend", choices=("torch", "onnx", "onnx-int8"), default=None,
                        help="how the model runs (default onnx; onnx-int8 builds ~2.5x faster at some "
                        "quality, docs/evaluation.md; part of the index's identity)")
    parser.add_argument("--store", choices=("faiss", "milvus"), default=None, help="where passage vectors "
                        "live (default faiss; RAG_STORE; part of the index's identity; docs/scale.md)")
    parser.add_argument("--milvus-uri", metavar="URI", help="a Milvus Lite file (x.db) or http://host:19530")
    parser.add_argument("--milvus-collection", metavar="NAME", help="default rag_passages")


def _settings(args: argparse.Namespace):
    from rag.config import Settings

    return Settings.from_env(
        docs_dir=getattr(args, "docs_dir", None),
        index_dir=args.index_dir,
        model=args.model,
        backend=getattr(args, "backend", None),
        **{k: getattr(args, k, None) for k in ("store", "milvus_uri", "milvus_collection", "workers", "ray_address")},
    )


def run_index(args: argparse.Namespace) -> int:
    from rag.errors import DocumentError
    from rag.store.build import build_index

    settings = _settings(args)
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    if args.watch:
        from rag.store.watch import watch

        print(f"watching {settings.docs_dir} (Ctrl-C to stop)", flush=True)
        watch(settings, interval=args.interval, say=say, on_build=partial(_show_report, settings))
        return EXIT_OK
    try:
        report = build_index(
            settings, progress=not args.quiet, force=args.force, say=say
        )
    except DocumentError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return EXIT_NOTHING
    _show_report(settings, report)
    return EXIT_OK


def _show_report(settings, report) -> None:
    if not report.rebuilt:
        print(
            f"index in {settings.index_dir} is up to date ({report.documents} documents, "
            f"{report.passages} passages): nothing to embed", flush=True,
        )
        return
    seconds = report.seconds
    print(
        f"indexed {report.documents} documents into {report.passages} passages "
        f"({report.sentences} sentences) in {seconds['total']:.1f}s -> {report.build}", flush=True,
    )
    if report.skipped:
        print(f"skipped {len(report.skipped)} file(s): see the messages above", file=sys.stderr)


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


def run_bench(args: argparse.Namespace) -> int:
    from rag.bench import runner as bench
    from rag.bench.report import format_table, write_json

    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    report = bench.run(
        _settings(args),
        corpus_file=args.corpus,
        limit=args.limit,
        queries=args.queries,
        seeds=not args.no_seeds,
        startup=not args.no_startup,
        http=not args.no_http,
        scale=args.scale,
        scale_indexes=args.scale_index or ["HNSW32@200"],
        scale_ef=args.scale_ef,
        scale_nprobe=args.scale_nprobe,
        scale_corpus=args.scale_corpus,
        scale_text=args.scale_text,
        peers_python=args.peers,
        milvus=args.milvus,
        say=say,
    )
    print(format_table(report))
    write_json(report, args.output)
    print(f"figures written to {args.output}")
    return EXIT_OK


def run_eval(args: argparse.Namespace) -> int:
    from rag.config import MODES
    from rag.errors import EvalDataError
    from rag.evaluate.beir import is_beir, load_beir
    from rag.evaluate.squad import is_squad

    modes = list(MODES) if args.mode == "all" else [args.mode]
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    overrides = _parse_overrides(args.overrides)
    if is_beir(args.data):
        from rag.evaluate.indexes import eval_settings, open_beir_index
        from rag.evaluate.runs import BEIR_PASSAGES, evaluate_beir

        beir = load_beir(args.data, args.split or "test", args.limit)
        index_dir = args.index_dir or Path("index") / f"beir-{beir.name}"
        overrides = {"embed_sentences": False, **overrides}
        settings = eval_settings(
            _settings(args).with_overrides(index_dir=index_dir, **overrides), BEIR_PASSAGES
        )
        report = evaluate_beir(open_beir_index(settings, beir, say=say), beir, modes, say=say)
    elif is_squad(args.data):
        from rag.evaluate.indexes import eval_settings, open_beir_index
        from rag.evaluate.questions import load_questions
        from rag.evaluate.runs import evaluate_questions
        from rag.evaluate.squad import load_squad

        squad = load_squad(args.data, args.split or "test")
        extra = load_questions(args.unanswerable, lambda source: "") if args.unanswerable else []
        questions = squad.questions + [q for q in extra if q.split in (squad.split, "")]
        index_dir = args.index_dir or Path("index") / f"squad-{squad.name}-{squad.split}"
        settings = eval_settings(_settings(args).with_overrides(index_dir=index_dir, **overrides), 10)
        index = open_beir_index(settings, squad, say=say)
        report = evaluate_questions(index, questions, modes, dataset=f"{args.data.name} ({squad.split})")
    elif args.data.is_file():
        from rag.evaluate.indexes import eval_settings, folder_reader, open_question_index
        from rag.evaluate.questions import load_questions
        from rag.evaluate.runs import evaluate_questions

        settings = _settings(args).with_overrides(docs_dir=args.docs_dir, **overrides)
        if args.index_dir is None and settings.index != type(settings.index)():
            settings = settings.with_overrides(index_dir=Path("index") / f"eval-{_digest(settings.index)}")
        # Check the question file against the documents first: a bad line fails before the model loads.
        questions = load_questions(args.data, folder_reader(settings.docs_dir))
        index = open_question_index(eval_settings(settings, 10), say=say)
        if args.split:
            questions = [q for q in questions if q.split == args.split]
            if not questions:
                raise EvalDataError(f"no question in {args.data} has split {args.split!r}")
        report = evaluate_questions(index, questions, modes, dataset=args.data.name)
    else:
        raise EvalDataError(f"{args.data} is neither a question file (.jsonl) nor a BEIR folder")
    if args.plot:
        from rag.evaluate.report import plot

        say(f"plot written to {plot(report, args.plot)}")
    if args.json:
        print(json.dumps(report.to_dict(with_questions=args.questions), ensure_ascii=False))
    else:
        from rag.evaluate.report import format_table

        print(format_table(report))
    return EXIT_OK


def _parse_overrides(items: list[str]) -> dict:
    from rag.errors import ConfigError

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = _literal(value.strip())
    return overrides


def _literal(value: str):
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _digest(settings) -> str:
    import hashlib

    return hashlib.sha1(json.dumps(settings.to_dict(), sort_keys=True).encode()).hexdigest()[:8]


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
    by, cut = (("support", answer.support_threshold) if answer.support is not None
               else ("confidence", answer.threshold))
    if not answer.answered:
        lines.append(f"The documents don't answer this ({by} {getattr(answer, by):.2f} < "
                     f"{cut:.2f}). Closest passages, low confidence:")
    for passage in answer.passages:
        lines.append(
            f"\n[{passage.rank}] {passage.source}, lines {passage.line_start}-{passage.line_end}"
            f"  ({by} {getattr(passage, by):.2f}{', low' if passage.low_confidence else ''})"
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


def _int_list(text: str) -> list[int]:
    """"64,128,256" -> [64, 128, 256] (for argparse)."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())

