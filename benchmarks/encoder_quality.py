"""Dense retrieval quality of each ONNX encoder backend on a BEIR set (default: SciFact test).

The standard BEIR dense protocol, independent of our chunking: each document is embedded whole
(title + text, truncated by the model to 256 word pieces), each test query is embedded, and the
documents are ranked by cosine. nDCG@10 and Recall@100 come from ranx, as in `rag eval`; the
published all-MiniLM-L6-v2 figure for SciFact is nDCG@10 0.645. Besides each backend on its own,
"queries X / documents Y" pairs show what mixing backends would cost (not something the index
does: a backend is part of its identity). Also printed: the cosine between each text's vector and
the first backend's, and the encoding speed of the documents (one run, batch 32).

    python benchmarks/encoder_quality.py [--backends onnx onnx-int8] [--data ../shared/bench-data/scifact]
        [--output benchmarks/results/encoder_quality.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.embed.onnx_backend import OnnxEmbedder  # noqa: E402
from rag.evaluate.beir import load_beir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["onnx", "onnx-int8"])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/bench-data/scifact"))
    parser.add_argument("--encoders", type=Path, default=Path("index/encoders"))
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    from ranx import Qrels, Run, evaluate

    data = load_beir(args.data)
    doc_ids = [d.source for d in data.documents.documents]
    doc_texts = [d.text for d in data.documents.documents]  # title, blank line, text
    query_ids = list(data.queries)
    query_texts = [data.queries[q] for q in query_ids]
    qrels = Qrels({q: {d: int(s) for d, s in data.qrels[q].items()} for q in query_ids})

    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    speed: dict[str, dict] = {}
    for backend in args.backends:
        embedder = OnnxEmbedder("all-MiniLM-L6-v2", backend, args.encoders)
        tokens = sum(min(n, embedder.max_tokens) for n in embedder.count_tokens(doc_texts))
        mark = time.perf_counter()
        docs = embedder.embed(doc_texts)
        seconds = time.perf_counter() - mark
        vectors[backend] = (embedder.embed(query_texts), docs)
        speed[backend] = {"documents_s": round(seconds, 1), "docs_per_s": round(len(doc_texts) / seconds, 1),
                          "tokens_per_s": round(tokens / seconds)}
        print(backend, speed[backend], flush=True)

    results = {}
    reference = args.backends[0]
    for q_backend in args.backends:
        for d_backend in args.backends:
            queries, _ = vectors[q_backend]
            _, docs = vectors[d_backend]
            scores = queries @ docs.T
            top = np.argsort(-scores, axis=1)[:, :100]
            run = Run({q: {doc_ids[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(query_ids)})
            metrics = evaluate(qrels, run, ["ndcg@10", "recall@100"])
            key = q_backend if q_backend == d_backend else f"queries {q_backend} / documents {d_backend}"
            results[key] = {m: round(float(v), 4) for m, v in metrics.items()}
            print(key, results[key], flush=True)
    agreement = {}
    for backend in args.backends[1:]:
        cos = np.concatenate([(vectors[backend][i] * vectors[reference][i]).sum(1) for i in (0, 1)])
        agreement[backend] = {"mean_cosine_to_" + reference: round(float(cos.mean()), 4),
                              "min_cosine": round(float(cos.min()), 4)}
        print(backend, agreement[backend])
    report = {"data": str(args.data), "documents": len(doc_ids), "queries": len(query_ids),
              "results": results, "agreement": agreement, "speed": speed}
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
