"""`rag bench`: measure model load, index build, query latency (in-process and through the HTTP
API, `rag.bench.http_latency`) and memory; print a table, write JSON.

Figures come from one run on the machine at hand; on a shared, noisy machine compare ratios
(e.g. embedding-only vs whole query) rather than absolute milliseconds. Nothing here is a test:
it only measures and reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Sequence

from rag.bench.corpora import FALLBACK_QUESTIONS, Corpus, beir_corpus, seeds_corpus
from rag.bench.http_latency import REPEATED
from rag.bench.report import Report, machine
from rag.bench.startup import startup_figures
from rag.bench.stats import PAUSE_S, PAUSED_QUESTIONS, paired_overhead, peak_rss_mb, percentiles, time_each
from rag.config import MODES, Settings
from rag.errors import ConfigError

SETTLE_S = 0.1
"""Seconds between the in-process and the HTTP pass of a mode: longer than the encoder threads
of one process spin after their last call when spinning is on (~50 ms, measured), so neither
pass pays for the other's."""
WARM_UP = "A warm-up question that is not among the measured ones"
PAUSED = "hybrid_after_pause"
"""The row of PAUSED_QUESTIONS new questions, each asked after PAUSE_S idle (`rag.bench.stats`)."""


def bench_corpus(
    corpus: Corpus, settings: Settings, index_dir: Path, queries: int, say: Callable[[str], None],
    http: bool = True,
) -> dict[str, Any]:
    """Build `corpus` from scratch, then time questions in every mode, in this process and (with
    `http`) through the HTTP API served by a child process."""
    from rag.index import Index
    from rag.store.build import build_index, load_embedder

    settings = settings.with_overrides(docs_dir=corpus.docs_dir, index_dir=index_dir)
    say(f"[{corpus.name}] loading the model")
    mark = time.perf_counter()
    embedder = load_embedder(settings)
    model_load = time.perf_counter() - mark

    say(f"[{corpus.name}] building the index")
    from rag.bench.compute import gemm_gflops

    work_before = dict(getattr(embedder, "work", {}), gemm_before=gemm_gflops())
    report = build_index(settings, embedder=embedder, force=True)
    seconds = report.seconds
    # Every measured question is new to the index: the question cache is off for the timings.
    index = Index(report.build, settings.with_overrides(question_cache=0), embedder)
    passage_texts = _passage_texts(index)
    passage_tokens = sum(embedder.count_tokens(passage_texts))
    embed_passages = seconds.get("embed_passages", 0.0)
    embed_sentences = seconds.get("embed_sentences", 0.0)

    from rag.bench.compute import embedding_efficiency, work_efficiency
    from rag.embed.embedder import resolve_model

    folder = Path(resolve_model(settings.index.model).location)
    if hasattr(embedder, "work"):  # all the build's model work (passages and sentences), as counted by the encoder
        work = {k: v - work_before.get(k, 0) for k, v in embedder.work.items()}
        efficiency = work_efficiency(folder, {**work, "gemm_before": work_before["gemm_before"]},
                                     embed_passages + embed_sentences)
    else:
        efficiency = embedding_efficiency(folder, passage_tokens, report.passages, embed_passages)
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
            # In-process, then the same questions over HTTP, mode by mode: close in time, so a
            # change in the machine's load touches both alike. Not question by question: the
            # encoder's threads, when set to spin (`Settings.encoder_spinning`), spin for ~50 ms
            # after each call and would take the cores from the server's question.
            samples = time_each(lambda question: index.ask(question, mode=mode), questions)
            latency[mode] = percentiles(samples)
            if client:
                time.sleep(SETTLE_S)
                remote = [client.ask(question, mode) for question in questions]
                over_http[mode] = {**percentiles(remote), **paired_overhead(remote, samples)}
                time.sleep(SETTLE_S)
    questions_encoder = index.question_embedder  # int8 over these float32 passages by default
    latency["embed_question_only"] = percentiles(time_each(lambda question: questions_encoder.embed([question]),
                                                           questions))
    latency[PAUSED] = percentiles(time_each(lambda question: index.ask(question, mode="hybrid"),
                                            questions[:PAUSED_QUESTIONS], pause_s=PAUSE_S))
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
        from rag.bench import scale_vectors

        real, questions = scale_vectors.real_embeddings(
            scale_corpus, settings, Path(settings.index_dir) / "scale-vectors", say
        )
        report.scale = bench_scale.run_scale(
            sorted(scale), real=real, questions=questions,
            configs=[bench_scale.parse_config(spec, scale_ef, scale_nprobe) for spec in scale_indexes],
            depth=settings.query.candidates, threads=settings.query.search_threads,
            source=Path(scale_corpus).parent.name, say=say,
        )
    if scale_text:
        from rag.bench.scale_text import run_text_scale
        from rag.bench.scale_vectors import corpus_questions

        questions = corpus_questions(scale_corpus)[:200] or list(FALLBACK_QUESTIONS)
        report.scale_text = []
        for size in sorted(scale_text):
            with tempfile.TemporaryDirectory(prefix="rag-bench-text-") as scratch:
                report.scale_text.append(run_text_scale(scale_corpus, size, Path(scratch), questions, say))
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


def _passage_texts(index) -> list[str]:
    texts = index.chunks.texts(range(len(index.chunks.documents)))
    spans = index.chunks.chunks(range(index.chunks.chunk_count))
    return [texts[s.doc][s.chunk.start : s.chunk.end] for s in spans]


def _rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


__all__ = ["run", "bench_corpus", "peer_figures"]
