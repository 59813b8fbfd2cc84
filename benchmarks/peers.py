"""Side by side with what users would otherwise pick: LangChain's FAISS vector store and txtai,
same seeds, same questions, same MiniLM model folder, as their tutorials use them
(LangChain: RecursiveCharacterTextSplitter 1000/200 + FAISS.from_documents + similarity_search;
txtai: Embeddings(path=..., content=True) over the same chunks + search). Ours: `Index.ask`,
question cache off. Latency is per question, in-process, warm; recall is Recall@5: the answer
text (whitespace-normalised) inside one of the top 5 passages of its file.

The peers are never our dependencies: run this with a separate environment that has them. To
reuse this project's torch, sentence-transformers, faiss and onnxruntime instead of downloading them
again, the peers' environment gets a `.pth` file naming the project environment's site-packages
by its absolute path (a relative line in a `.pth` is taken relative to the folder it is in),
before pip runs; pip then installs only into the peers' environment, putting there the packages
the peers need in other versions (it says "Not uninstalling ... outside environment" for the
project's copy, which stays as it is and is shadowed for the peers only):

    .venv/bin/python -m venv /tmp/peers      # the same Python 3.11 (a venv's python makes one
                                             # from its base interpreter)
    echo "$(realpath .venv/lib/python3.11/site-packages)" \
        > /tmp/peers/lib/python3.11/site-packages/project-venv.pth
    nice -n 19 /tmp/peers/bin/python -m pip install langchain-community \
        langchain-text-splitters langchain-huggingface txtai
    /tmp/peers/bin/python benchmarks/peers.py --output /tmp/peers.json   # from the repo root

(Without --output it writes benchmarks/results/peers.json.) `rag bench --peers /tmp/peers/bin/python`
runs this script as part of the benchmark.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.bench.stats import PAUSE_S, PAUSED_QUESTIONS, percentiles, time_each  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embed.embedder import resolve_model  # noqa: E402
from rag.index import Index, ensure_index  # noqa: E402
from rag.ingest.documents import load_folder  # noqa: E402

norm = lambda s: " ".join(s.split())  # noqa: E731


def recall_at_5(results, questions) -> float:
    """results[i]: list of (source, text) for question i, best first."""
    hits = 0
    for found, q in zip(results, questions):
        if any(a["file"] == src and norm(a["text"]) in norm(text) for src, text in found[:5] for a in q["answers"]):
            hits += 1
    return round(hits / len(questions), 4)


def timed(search, questions):
    """Latency of the questions back to back, and of the first PAUSED_QUESTIONS again, each
    after PAUSE_S idle (caches and cores cold, as for a person asking now and then)."""
    search(questions[0]["question"])  # warm-up
    samples, results = [], []
    for q in questions:
        mark = time.perf_counter()
        found = search(q["question"])
        samples.append(time.perf_counter() - mark)
        results.append(found)
    paused = time_each(lambda q: search(q["question"]), questions[:PAUSED_QUESTIONS], pause_s=PAUSE_S)
    return {**percentiles(samples), "after_pause": percentiles(paused)}, results


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/peers.json"))
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch threads for the peers (default 1: their fastest per question on "
                        "this 2-core machine, ~10x faster than 2; peers are compared at their best)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.torch_threads)
    model = resolve_model("all-MiniLM-L6-v2").location
    questions = [json.loads(line) for line in Path("eval/questions.jsonl").read_text().splitlines() if line.strip()]
    questions = [q for q in questions if q["answers"] and not q.get("history")]
    documents = load_folder(Path("seeds")).documents
    report: dict = {"questions": len(questions), "peers_torch_threads": args.torch_threads}

    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents([Document(d.text, metadata={"source": d.source}) for d in documents])
    mark = time.perf_counter()
    store = FAISS.from_documents(chunks, HuggingFaceEmbeddings(model_name=model))
    build = time.perf_counter() - mark
    latency, results = timed(
        lambda q: [(d.metadata["source"], d.page_content) for d in store.similarity_search(q, k=5)], questions
    )
    report["langchain"] = {"passages": len(chunks), "mean_chars": round(statistics.fmean(len(c.page_content) for c in chunks)),
                           "build_s": round(build, 2), "latency": latency, "recall@5": recall_at_5(results, questions)}
    print("langchain", report["langchain"], flush=True)

    from txtai import Embeddings

    mark = time.perf_counter()
    embeddings = Embeddings(path=model, content=True)
    embeddings.index([(i, c.page_content, None) for i, c in enumerate(chunks)])
    build = time.perf_counter() - mark
    source_of = {i: c.metadata["source"] for i, c in enumerate(chunks)}
    latency, results = timed(
        lambda q: [(source_of[int(r["id"])], r["text"]) for r in embeddings.search(q, 5)], questions
    )
    report["txtai"] = {"passages": len(chunks), "mean_chars": report["langchain"]["mean_chars"],
                       "build_s": round(build, 2), "latency": latency, "recall@5": recall_at_5(results, questions)}
    print("txtai", report["txtai"], flush=True)

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings.from_env(environ={}, docs_dir=Path("seeds"), index_dir=Path(scratch),
                                     encoder_cache=Path("index/encoders"), question_cache=0)
        mark = time.perf_counter()
        index = ensure_index(settings)
        index.embedder
        build = time.perf_counter() - mark
        chunks = index.chunks.chunks(range(index.chunks.chunk_count))
        texts = index.chunks.span_texts([(c.doc, c.chunk.start, c.chunk.end) for c in chunks])
        index.question_embedder.embed(["warm"])  # int8 by default (`question_backend`)
        float32 = Index(index.build, settings.with_overrides(question_backend=""), index.embedder)
        float32.question_embedder.embed(["warm"])
        # Last, so that its threads' spinning (~50 ms after each call) touches no other row.
        spinning = Index(index.build, settings.with_overrides(encoder_spinning=True))
        spinning.embedder.embed(["warm"])
        for name, which, mode in (("hybrid", index, "hybrid"), ("dense", index, "dense"),
                                  ("hybrid_float32_questions", float32, "hybrid"),
                                  ("hybrid_spinning_encoder", spinning, "hybrid")):
            latency, results = timed(
                lambda q: [(p.source, p.text) for p in which.ask(q, k=5, mode=mode).passages], questions
            )
            report[f"rag_{name}"] = {"passages": len(texts), "mean_chars": round(statistics.fmean(map(len, texts))),
                                     "build_s": round(build, 2), "latency": latency,
                                     "recall@5": recall_at_5(results, questions)}
            print(f"rag {name}", report[f"rag_{name}"], flush=True)
        # The same questions through POST /api/ask (a server in a child process, one keep-alive
        # client), so that the HTTP figure is compared in this harness too.
        from rag.bench.http_latency import Client, serving

        with serving(settings) as server, Client(server.port) as client:
            latency, _ = timed(lambda q: client.ask(q), questions)
        report["rag_http_hybrid"] = {"passages": len(texts), "latency": latency}
        print("rag http_hybrid", report["rag_http_hybrid"], flush=True)
    fastest_peer = min(report["langchain"]["latency"]["p50_ms"], report["txtai"]["latency"]["p50_ms"])
    report["speedup_vs_faster_peer_p50"] = {
        m: round(fastest_peer / report[f"rag_{m}"]["latency"]["p50_ms"], 2)
        for m in ("hybrid", "dense", "hybrid_float32_questions", "hybrid_spinning_encoder", "http_hybrid")
    }
    fastest_paused = min(report[p]["latency"]["after_pause"]["p50_ms"] for p in ("langchain", "txtai"))
    report["speedup_vs_faster_peer_p50_after_pause"] = {
        m: round(fastest_paused / report[f"rag_{m}"]["latency"]["after_pause"]["p50_ms"], 2)
        for m in ("hybrid", "dense", "hybrid_float32_questions", "hybrid_spinning_encoder", "http_hybrid")
    }
    out = args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["speedup_vs_faster_peer_p50"]), "->", out)


if __name__ == "__main__":
    main()
