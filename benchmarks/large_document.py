"""Benchmark: load and chunk one large document (default 50 MB), printing time and peak memory.

    python benchmarks/large_document.py [--mb 50] [--real-tokenizer] [--one-line]

The file is the seeds' text repeated (with --one-line, all on one line: no newline at all). Chunking counts cl100k tokens (tiktoken) and, with
--real-tokenizer, MiniLM's word pieces too, as `rag index` does; without it a whitespace count
stands in for the model's tokenizer (what the tests' keyword embedder does). Nothing is embedded:
embedding is measured per passage by the build benchmarks, and 50 MB would take hours on 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import ChunkingSettings  # noqa: E402
from rag.ingest.chunking import Chunker  # noqa: E402
from rag.ingest.documents import load_folder  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--real-tokenizer", action="store_true")
    parser.add_argument("--one-line", action="store_true")
    args = parser.parse_args()

    seeds = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").iterdir()))
    if args.one_line:
        seeds = " ".join(seeds.split())
    size = int(args.mb * 1_000_000)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.txt"
        path.write_text((seeds * (size // len(seeds) + 1))[:size], encoding="utf-8")
        del seeds
        print(f"file: {path.stat().st_size / 1e6:.1f} MB, peak RSS before loading {peak_mb():.0f} MB")

        started = time.perf_counter()
        skipped = load_folder(Path(folder), max_bytes=10_000_000).skipped
        if skipped:
            print(f"default 10 MB limit: skipped in {time.perf_counter() - started:.2f} s: "
                  f"{skipped[0].source} {skipped[0].reason}")

        started = time.perf_counter()
        (document,) = load_folder(Path(folder), max_bytes=None).documents
        loaded = time.perf_counter() - started
        if args.real_tokenizer:
            from rag.embed.embedder import SentenceTransformerEmbedder

            model = SentenceTransformerEmbedder()
            counter, limit, adds_up = model.count_tokens, model.max_tokens, model.tokens_add_up
        else:
            counter, limit, adds_up = (lambda texts: [len(t.split()) for t in texts]), 254, True
        chunker = Chunker(ChunkingSettings(), counter, limit, adds_up)
        mark = time.perf_counter()
        sentences = chunker.sentences(document)
        split = time.perf_counter() - mark
        mark = time.perf_counter()
        chunks = chunker.chunk(document, sentences)
        packed = time.perf_counter() - mark
    print(f"load {loaded:.1f} s; sentences {len(sentences)} in {split:.1f} s; "
          f"passages {len(chunks)} in {packed:.1f} s; total {loaded + split + packed:.1f} s; "
          f"{(args.mb / (loaded + split + packed)):.2f} MB/s")
    print(f"peak RSS {peak_mb():.0f} MB ({'MiniLM word pieces' if args.real_tokenizer else 'whitespace'} "
          "stand-in for the model's tokenizer)")


if __name__ == "__main__":
    main()
