"""Which hybrid to use with the Milvus store: Milvus' own (its BM25 function on the passage text,
a sparse index, `hybrid_search` fused by `RRFRanker`) or ours (our BM25 over the build folder fused
with Milvus' dense list by `rag.search.fusion`)? Measured as agreement of the top-5 passage ids with
the local hybrid ranking (FAISS + our BM25), before overlap merging, on the seeds and a SciFact slice.

    python benchmarks/milvus_hybrid.py [--documents 300] [--questions 150]

Our hybrid over Milvus' dense list is the local ranking whenever the dense lists agree (exact
search on both), so its agreement is that of the dense lists; Milvus' own differs by tokenizer
(Lite: "standard", no stemming, no stopwords) and by weighting (RRFRanker has none).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.index import ensure_index  # noqa: E402
from rag.search.query import Query  # noqa: E402
from rag.search.ranking import rank  # noqa: E402

SCIFACT = Path("/work/shared/bench-data/scifact")


def milvus_native(index, uri: str):
    """A Lite collection of the index's passages with a BM25 function on their text."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    client = MilvusClient(uri)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=index.store.dimension)
    schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params={"type": "standard"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse"]))
    params = client.prepare_index_params()
    params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("native", schema=schema, index_params=params)
    n = index.chunks.chunk_count
    ids = list(range(n))
    vectors = index.store.vectors(ids)
    texts = [index.document_text(c.chunk.source)[c.chunk.start:c.chunk.end] for c in index.chunks.chunks(ids)]
    for start in range(0, n, 500):
        client.insert("native", [{"id": i, "vector": vectors[i], "text": texts[i]} for i in range(start, min(n, start + 500))])
    return client


def native_top(client, query: Query, depth: int, k: int) -> list[int]:
    from pymilvus import AnnSearchRequest, RRFRanker

    dense = AnnSearchRequest(data=[query.vector], anns_field="vector", param={"metric_type": "IP"}, limit=depth)
    sparse = AnnSearchRequest(data=[query.text], anns_field="sparse", param={"metric_type": "BM25"}, limit=depth)
    hits = client.hybrid_search("native", [dense, sparse], ranker=RRFRanker(60), limit=k)[0]
    return [int(h["id"]) for h in hits]


def compare(name: str, docs: Path, questions: list[str], work: Path, embedder) -> dict:
    base = Settings.from_env(environ={}, docs_dir=docs, index_dir=work / "faiss", dense_index="Flat",
                             embed_sentences=False)
    local = ensure_index(base, embedder=embedder)
    shutil.copytree(work / "faiss" / "embeddings", work / "milvus" / "embeddings")
    remote = ensure_index(base.with_overrides(index_dir=work / "milvus", store="milvus",
                                              milvus_uri=str(work / "ours.db")), embedder=embedder)
    client = milvus_native(local, str(work / "native.db"))
    settings = base.query
    equal_weights = settings.__class__(**{**settings.__dict__, "dense_weight": 1.0})
    counts = {"ours_over_milvus": 0, "milvus_native": 0, "milvus_native_vs_local_equal_weights": 0}
    for question in questions:
        vector = local.embedder.embed([question])[0]
        query = Query(question, vector, tuple(local.lexical.query_tokens(question)), "hybrid")
        want = [c.id for c in rank(query, local.corpus, settings)][:5]
        ours = [c.id for c in rank(query, remote.corpus, settings)][:5]
        native = native_top(client, query, settings.candidates, 5)
        equal = [c.id for c in rank(query, local.corpus, equal_weights)][:5]
        counts["ours_over_milvus"] += ours == want
        counts["milvus_native"] += native == want
        counts["milvus_native_vs_local_equal_weights"] += native == equal
    return {"corpus": name, "questions": len(questions), "passages": local.chunks.chunk_count,
            **{key: round(value / len(questions), 3) for key, value in counts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--questions", type=int, default=150)
    args = parser.parse_args()
    from rag.embed.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    seeds_questions = [json.loads(line)["question"] for line in open(ROOT / "eval" / "questions.jsonl")]
    with tempfile.TemporaryDirectory(prefix="rag-milvus-hybrid-") as scratch:
        scratch = Path(scratch)
        shutil.copytree(ROOT / "seeds", scratch / "seeds")
        print(json.dumps(compare("seeds", scratch / "seeds", seeds_questions, scratch / "s", embedder)))
        docs = scratch / "scifact"
        docs.mkdir()
        with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as corpus:
            for _, line in zip(range(args.documents), corpus):
                row = json.loads(line)
                (docs / f"{row['_id']}.txt").write_text(f"{row['title']}\n\n{row['text']}\n", encoding="utf-8")
        with open(SCIFACT / "queries.jsonl", encoding="utf-8") as queries:
            claims = [json.loads(line)["text"] for _, line in zip(range(args.questions), queries)]
        print(json.dumps(compare("scifact", docs, claims, scratch / "f", embedder)))


if __name__ == "__main__":
    main()
