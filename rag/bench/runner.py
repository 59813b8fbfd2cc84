"""`rag bench`: measure model load, index build, query latency (in-process and through the HTTP
API, `rag.bench.http_latency`) and memory; print a table, write JSON.

Figures come from one run on the machine at hand; on a shared, noisy machine compare ratios
(e.g. embedding-only vs whole query) rather than absolute milliseconds. Nothing here is a test:
it only measures and reports.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from rag.config import MODES, Settings
from rag.bench.http_latency import REPEATED
from rag.errors import ConfigError

QUESTIONS = Path("eval/questions.jsonl")
WARM_UP = "A warm-up question that is not among the measured ones"
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


@dataclass
class Report:
    """Everything one `rag bench` run measured, as written to the JSON file."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    corpora: list[dict[str, Any]] = field(default_factory=list)
    startup: dict[str, Any] | None = None
    scale: dict[str, Any] | None = None
    scale_text: list[dict[str, Any]] | None = None
    peers: dict[str, Any] | None = None
    milvus: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings,
            "corpora": self.corpora,
            "startup": self.startup,
            "scale": self.scale,
            "scale_text": self.scale_text,
            "peers": self.peers,
            "milvus": self.milvus,
            "peak_rss_mb": peak_rss_mb(),
        }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def paired_overhead(slower: Sequence[float], faster: Sequence[float]) -> dict[str, float]:
    """The extra time of `slower` over `faster`, measured in alternation on the same questions:
    the difference of their p50s, and the median of the per-question differences (which a
    change of load during the run moves least)."""
    differences = sorted(s - f for s, f in zip(slower, faster))
    return {
        "overhead_p50_ms": round((statistics.median(slower) - statistics.median(faster)) * 1000, 3),
        "overhead_paired_median_ms": round(statistics.median(differences) * 1000, 3),
    }


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of `samples` (seconds) in milliseconds, nearest-rank."""
    ordered = sorted(samples)

    def at(p: float) -> float:
        index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
        return round(ordered[index] * 1000, 3)

    return {
        "p50_ms": at(50),
        "p95_ms": at(95),
        "p99_ms": at(99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "n": len(ordered),
    }


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


def bench_corpus(
    corpus: Corpus, settings: Settings, index_dir: Path, queries: int, say: Callable[[str], None],
    http: bool = True,
) -> dict[str, Any]:
    """Build `corpus` from scratch, then time questions in every mode, in this process and (with
    `http`) through the HTTP API served by a child process."""
    from rag.store.build import build_index, load_embedder
    from rag.index import Index

    settings = settings.with_overrides(docs_dir=corpus.docs_dir, index_dir=index_dir)
    say(f"[{corpus.name}] loading the model")
    mark = time.perf_counter()
    embedder = load_embedder(settings)
    model_load = time.perf_counter() - mark

    say(f"[{corpus.name}] building the index")
    report = build_index(settings, embedder=embedder, force=True)
    seconds = report.seconds
    # Every measured question is new to the index: the question cache is off for the timings.
    index = Index(report.build, settings.with_overrides(question_cache=0), embedder)
    passage_texts = _passage_texts(index)
    passage_tokens = sum(embedder.count_tokens(passage_texts))
    embed_passages = seconds.get("embed_passages", 0.0)
    embed_sentences = seconds.get("embed_sentences", 0.0)

    from rag.bench.compute import embedding_efficiency
    from rag.embed.embedder import resolve_model

    efficiency = embedding_efficiency(Path(resolve_model(settings.index.model).location), passage_tokens,
                                      report.passages, embed_passages)
    mark = time.perf_counter()
    again = build_index(settings, embedder=embedder, force=False)
    unchanged = time.perf_counter() - mark

    say(f"[{corpus.name}] timing {queries} questions per mode" + (", in-process and over HTTP" if http else ""))
    questions = list(dict.fromkeys(corpus.questions))[: max(1, queries)]  # distinct: no cache hits
    latency: dict[str, Any] = {}
    over_http: dict[str, Any] = {}
    with ExitStack() as stack:
        client = None
        if http:
            from rag.bench.http_latency import Client, serving

            server = stack.enter_context(serving(settings.with_overrides(question_cache=0)))
            client = stack.enter_context(Client(server.port))
        for mode in MODES:  # warm-up: first-call allocations and lazy imports, with unmeasured questions
            index.ask(WARM_UP, mode=mode)
            if client:
                client.ask(WARM_UP, mode)
        for mode in MODES:
            # In-process and HTTP alternate question by question, so a change in the machine's
            # load touches both alike and their difference is the HTTP layer's own cost.
            samples, remote = [], []
            for question in questions:
                mark = time.perf_counter()
                index.ask(question, mode=mode)
                samples.append(time.perf_counter() - mark)
                if client:
                    remote.append(client.ask(question, mode))
            latency[mode] = percentiles(samples)
            if client:
                over_http[mode] = {**percentiles(remote), **paired_overhead(remote, samples)}
    samples = []
    for question in questions:
        mark = time.perf_counter()
        embedder.embed([question])
        samples.append(time.perf_counter() - mark)
    latency["embed_question_only"] = percentiles(samples)
    index.close()
    cached = Index(report.build, settings, embedder)
    samples = []
    for question in questions:
        cached.ask(question)
        mark = time.perf_counter()
        cached.ask(question)
        samples.append(time.perf_counter() - mark)
    latency[REPEATED] = percentiles(samples)
    cached.close()
    figures: dict[str, Any] = {}
    if http:
        from rag.bench.http_latency import repeated_question_latency

        say(f"[{corpus.name}] timing repeated questions through the HTTP API")
        repeated = repeated_question_latency(settings, questions)
        over_http[REPEATED] = {**repeated, "overhead_p50_ms": round(repeated["p50_ms"] - latency[REPEATED]["p50_ms"], 3)}
        figures["query_http"] = over_http
    return {
        "corpus": corpus.name,
        "documents": report.documents,
        "passages": report.passages,
        "sentences": report.sentences,
        "passage_tokens": passage_tokens,
        "model": embedder.identity,
        "model_load_s": round(model_load, 3),
        "build_s": {k: round(v, 3) for k, v in seconds.items()},
        "embed_passages_per_s": _rate(report.passages, embed_passages),
        "embed_tokens_per_s": _rate(passage_tokens, embed_passages),
        "embed_compute": efficiency,
        "embed_sentences_per_s": _rate(report.sentences, embed_sentences),
        "rebuild_unchanged_s": round(unchanged, 3),
        "rebuild_unchanged_embedded": again.rebuilt,
        "query": latency,
        **figures,
        "peak_rss_mb": peak_rss_mb(),
    }


def startup_figures(
    settings: Settings, python: str = sys.executable, index_dir: Path | None = None
) -> dict[str, Any]:
    """Start-up in fresh processes: `rag --help` (and whether it imports torch), and a warm
    `rag ask` split into opening the index, loading the model, and answering."""
    probe = (
        "import sys, time; t0 = time.perf_counter()\n"
        "from rag.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "print(round(time.perf_counter() - t0, 3), 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "RAG_BACKEND": settings.index.backend, "RAG_MODEL": settings.index.model}
    if settings.threads:
        env["RAG_THREADS"] = str(settings.threads)
    if settings.encoder_cache:
        env["RAG_ENCODER_CACHE"] = str(settings.encoder_cache)
    mark = time.perf_counter()
    out = _run([python, "-c", probe], env)
    help_wall = time.perf_counter() - mark
    help_s, torch_loaded = out.split()
    figures: dict[str, Any] = {
        "help_process_s": round(help_wall, 3),
        "help_in_process_s": float(help_s),
        "help_imports_torch": torch_loaded == "True",
    }
    ask = (
        "import sys, time, json; t0 = time.perf_counter()\n"
        "from rag.index import open_index\n"
        f"index = open_index({str(index_dir) if index_dir else None!r}); t1 = time.perf_counter()\n"
        "index.embedder; t2 = time.perf_counter()\n"
        "index.ask('Who is Mark Rutte?'); t3 = time.perf_counter()\n"
        "print(json.dumps({'open_index_s': t1 - t0, 'model_load_s': t2 - t1, 'first_answer_s': t3 - t2,"
        " 'torch_loaded': 'torch' in sys.modules}))\n"
    )
    mark = time.perf_counter()
    try:
        split = json.loads(_run([python, "-c", ask], env))
    except RuntimeError as exc:
        figures["ask_error"] = str(exc)[-300:]
        return figures
    figures["ask_process_s"] = round(time.perf_counter() - mark, 3)
    figures.update({k: round(v, 3) if isinstance(v, float) else v for k, v in split.items()})
    if index_dir is not None and Path("app.py").is_file():
        figures["app_ready_s"] = app_ready_seconds(python, settings.docs_dir, index_dir, env)
    return figures


def app_ready_seconds(python: str, docs_dir: Path, index_dir: Path, env: dict[str, str]) -> float | None:
    """Seconds from starting `app.py` on a free local port (index already built) until its page
    answers; the app loads the model before it starts serving. None if it never does in 180 s."""
    import urllib.request

    from rag.bench.processes import free_port, stop

    port = free_port()
    mark = time.perf_counter()
    process = subprocess.Popen(
        [python, "app.py", "--port", str(port), "--docs-dir", str(docs_dir), "--index-dir", str(index_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        while time.perf_counter() - mark < 180 and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return round(time.perf_counter() - mark, 3)
            except OSError:
                time.sleep(0.1)
        return None
    finally:
        stop(process)


def run(
    settings: Settings,
    *,
    corpus_file: Path | None = None,
    limit: int | None = None,
    queries: int = 100,
    seeds: bool = True,
    startup: bool = True,
    http: bool = True,
    scale: Sequence[int] = (),
    scale_indexes: Sequence[str] = ("HNSW32",),
    scale_ef: Sequence[int] = (64, 128, 256),
    scale_nprobe: Sequence[int] = (16, 32, 64),
    scale_corpus: Path | None = None,
    scale_text: Sequence[int] = (),
    peers_python: str | None = None,
    milvus: Sequence[int] = (),
    say: Callable[[str], None] = lambda message: None,
) -> Report:
    """The whole benchmark: the seeds (and a BEIR corpus when given), then start-up."""
    report = Report(machine=machine(), settings=settings.index.to_dict())
    if (seeds or corpus_file is not None) and settings.index.backend != "torch":
        from rag.store.build import ENCODERS, load_embedder

        # The ONNX export is kept with the real index, made once here if missing, so that
        # "model load" below times loading an export, not making one.
        settings = settings.with_overrides(
            encoder_cache=settings.encoder_cache or Path(settings.index_dir) / ENCODERS
        )
        say("preparing the encoder")
        load_embedder(settings)
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as scratch:
        scratch = Path(scratch)
        if seeds:
            corpus = seeds_corpus(settings.docs_dir)
            report.corpora.append(bench_corpus(corpus, settings, scratch / "seeds-index", queries, say, http))
        if corpus_file is not None:
            corpus = beir_corpus(corpus_file, scratch / "beir", limit)
            report.corpora.append(bench_corpus(corpus, settings, scratch / "beir-index", queries, say, http))
        if startup:
            say("timing start-up in fresh processes")
            index_dir = scratch / "seeds-index" if seeds else None
            report.startup = startup_figures(settings, index_dir=index_dir)
    if peers_python:
        say("timing LangChain and txtai (benchmarks/peers.py, their own environment)")
        report.peers = peer_figures(peers_python)
    if (scale or scale_text) and (scale_corpus is None or not Path(scale_corpus).is_file()):
        raise ConfigError("--scale and --scale-text need --scale-corpus CORPUS_JSONL (a BEIR corpus whose "
                          "passages give the real vectors and sentences, e.g. scifact/corpus.jsonl)")
    if scale:
        from rag.bench import scale as bench_scale

        real, questions = bench_scale.real_embeddings(
            scale_corpus, settings, Path(settings.index_dir) / "scale-vectors", say
        )
        report.scale = bench_scale.run_scale(
            sorted(scale), real=real, questions=questions,
            configs=[bench_scale.parse_config(spec, scale_ef, scale_nprobe) for spec in scale_indexes],
            depth=settings.query.candidates, threads=settings.query.search_threads,
            source=Path(scale_corpus).parent.name, say=say,
        )
    if scale_text:
        from rag.bench import scale as bench_scale

        questions = bench_scale._questions(scale_corpus)[:200] or list(FALLBACK_QUESTIONS)
        report.scale_text = []
        for size in sorted(scale_text):
            with tempfile.TemporaryDirectory(prefix="rag-bench-text-") as scratch:
                report.scale_text.append(bench_scale.run_text_scale(scale_corpus, size, Path(scratch), questions, say))
    if milvus:
        from rag.bench.milvus import run_milvus

        report.milvus = run_milvus(sorted(milvus), depth=settings.query.candidates, say=say)
    return report


def peer_figures(python: str, script: Path = Path("benchmarks/peers.py")) -> dict[str, Any]:
    """Run the side-by-side script with the interpreter of an environment that holds the peers
    (they are never our dependencies) and read back its figures."""
    if not script.is_file():
        raise ConfigError(f"{script} not found: run `rag bench --peers` from the repository root")
    with tempfile.TemporaryDirectory(prefix="rag-peers-") as scratch:
        out = Path(scratch) / "peers.json"
        done = subprocess.run([python, str(script), "--output", str(out)], capture_output=True, text=True,
                              timeout=3600, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
        if done.returncode != 0 or not out.is_file():
            raise ConfigError(
                f"the peers benchmark failed with {python}: {done.stderr.strip()[-400:]} "
                "(that environment needs langchain-community, langchain-huggingface, "
                "langchain-text-splitters and txtai)"
            )
        return json.loads(out.read_text(encoding="utf-8"))


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(report: Report, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def format_table(report: Report) -> str:
    """The figures as a plain-text table, one block per corpus."""
    rows: list[tuple[str, str]] = []
    for c in report.corpora:
        b = c["build_s"]
        rows += [
            (f"== {c['corpus']}", f"{c['documents']} documents, {c['passages']} passages, "
                                  f"{c['sentences']} sentences, {c['passage_tokens']} passage tokens"),
            ("model load", f"{c['model_load_s']:.2f} s ({c['model'].get('backend', 'torch')})"),
            ("build: chunking", f"{b.get('chunk', 0):.2f} s"),
            ("build: embed passages", f"{b.get('embed_passages', 0):.2f} s = "
                                      f"{c['embed_passages_per_s']} passages/s, {c['embed_tokens_per_s']} tokens/s"),
            *([("build: embed vs compute limit",
                f"{c['embed_compute']['achieved_gflops']} GFLOP/s = "
                f"{c['embed_compute']['fraction_of_fp32_limit']:.0%} of fp32 GEMM measured now "
                f"({c['embed_compute']['fp32_gemm_gflops_now']} GFLOP/s)")] if c.get("embed_compute") else []),
            ("build: embed sentences", f"{b.get('embed_sentences', 0):.2f} s = {c['embed_sentences_per_s']} sentences/s"),
            ("build: writing", f"{b.get('write', 0):.2f} s"),
            ("build: total (no model load)", f"{b.get('total', 0):.2f} s"),
            ("re-run on unchanged documents", f"{c['rebuild_unchanged_s']:.2f} s, "
                                              f"{'rebuilt' if c['rebuild_unchanged_embedded'] else 'nothing embedded'}"),
        ]
        for mode, q in c["query"].items():
            rows.append((f"query {mode}", f"p50 {q['p50_ms']:.2f} ms  p95 {q['p95_ms']:.2f}  "
                                          f"p99 {q['p99_ms']:.2f}  (n={q['n']})"))
        for mode, q in c.get("query_http", {}).items():
            over = f"  {q['overhead_p50_ms']:+.2f} ms vs in-process p50" if "overhead_p50_ms" in q else ""
            if "overhead_paired_median_ms" in q:
                over += f" ({q['overhead_paired_median_ms']:+.2f} paired)"
            rows.append((f"HTTP {mode}", f"p50 {q['p50_ms']:.2f} ms  p95 {q['p95_ms']:.2f}  "
                                         f"p99 {q['p99_ms']:.2f}  (n={q['n']}){over}"))
        rows.append(("peak memory so far", f"{c['peak_rss_mb']:.0f} MB"))
    if report.startup:
        s = report.startup
        rows.append(("== start-up", "fresh processes"))
        rows.append(("rag --help", f"{s['help_process_s']:.2f} s process, imports torch: {s['help_imports_torch']}"))
        if "ask_process_s" in s:
            rows.append(("warm `rag ask`", f"{s['ask_process_s']:.2f} s process = open index {s['open_index_s']:.2f} "
                                           f"+ model load {s['model_load_s']:.2f} + answer {s['first_answer_s']:.2f}"
                                           f" (torch loaded: {s['torch_loaded']})"))
        if s.get("app_ready_s") is not None:
            rows.append(("app.py ready (model loaded)", f"{s['app_ready_s']:.2f} s"))
    if report.peers:
        p = report.peers
        rows.append(("== side by side", f"seeds, {p['questions']} questions, same model, in-process"))
        for name in ("langchain", "txtai", "rag_hybrid", "rag_dense"):
            q = p[name]
            rows.append((name, f"p50 {q['latency']['p50_ms']:.1f} ms  p95 {q['latency']['p95_ms']:.1f}  "
                               f"Recall@5 {q['recall@5']}  ({q['passages']} passages, {q['mean_chars']} chars)"))
        ratio = p["speedup_vs_faster_peer_p50"]
        rows.append(("p50 speed-up vs the faster peer", f"hybrid {ratio['hybrid']}x, dense {ratio['dense']}x"))
    width = max((len(k) for k, _ in rows), default=0) + 2
    table = "\n".join(f"{k:<{width}}{v}" for k, v in rows)
    if report.scale:
        from rag.bench.scale import format_scale

        table = (table + "\n" if table else "") + format_scale(report.scale)
    if report.scale_text:
        from rag.bench.scale import format_text_scale

        table = (table + "\n" if table else "") + format_text_scale(report.scale_text)
    if report.milvus:
        from rag.bench.milvus import format_milvus

        table = (table + "\n" if table else "") + format_milvus(report.milvus)
    return table


def _passage_texts(index) -> list[str]:
    texts = index.chunks.texts(range(len(index.chunks.documents)))
    spans = index.chunks.chunks(range(index.chunks.chunk_count))
    return [texts[s.doc][s.chunk.start : s.chunk.end] for s in spans]


def _rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"exit code {done.returncode}")
    return done.stdout.strip().splitlines()[-1]


__all__ = ["run", "format_table", "write_json", "Report", "percentiles", "beir_corpus", "seeds_corpus"]
