"""Benchmark: chunk a BEIR corpus (default SciFact, 5,183 abstracts) and the seeds as `rag index` does.

    python benchmarks/chunking.py [--beir ../shared/bench-data/scifact] [--limit N] [--backend B]
                                  [--index-dir DIR] [--spans FILE.json]

The chunker counts cl100k tokens and the model's word pieces through the embedder `rag index`
would load (`--backend`, default the settings' default; its ONNX export is kept under
`--index-dir`/encoders). Nothing is embedded. `--spans` writes every passage's (source, start,
end, line_start, line_end), to check that two versions of the chunker cut the same passages.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.evaluate.beir import load_beir  # noqa: E402
from rag.ingest.chunking import Chunker  # noqa: E402
from rag.ingest.documents import load_folder  # noqa: E402
from rag.store.build import load_embedder  # noqa: E402


def chunk_all(chunker: Chunker, documents) -> tuple[list[list], float, float]:
    """Every passage of `documents` as [source, start, end, line_start, line_end], the wall-clock
    seconds and the CPU seconds of this process (steadier on a shared machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    spans = []
    for document in documents:
        for c in chunker.chunk(document, chunker.sentences(document)):
            spans.append([c.source, c.start, c.end, c.line_start, c.line_end])
    return spans, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "bench-data" / "scifact")
    parser.add_argument("--limit", type=int, default=0, help="only the first N documents")
    parser.add_argument("--backend", default=None)
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--spans", type=Path, default=None)
    args = parser.parse_args()

    settings = Settings.from_env(index_dir=args.index_dir, backend=args.backend)
    embedder = load_embedder(settings)
    chunker = Chunker(settings.index.chunking, embedder.count_tokens, embedder.max_tokens,
                      getattr(embedder, "tokens_add_up", False))
    corpus = load_beir(args.beir).documents.documents
    corpus = corpus[: args.limit] if args.limit else corpus
    result = {}
    for name, documents in (("seeds", load_folder(ROOT / "seeds").documents), (args.beir.name, corpus)):
        spans, seconds, cpu = chunk_all(chunker, documents)
        characters = sum(len(d.text) for d in documents)
        print(f"{name}: {len(documents)} documents ({characters / 1e6:.1f} M characters) -> "
              f"{len(spans)} passages in {seconds:.2f} s, CPU {cpu:.2f} s ({len(documents) / seconds:.0f} documents/s; "
              f"{settings.index.backend} word pieces)")
        result[name] = spans
    if args.spans:
        args.spans.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
