"""PDF reading figures: text extraction pages/s, OCR pages/s, and the index build time of a
100-page PDF (made with fpdf2: each page ~2,500 characters of prose).

    python benchmarks/pdf_extraction.py [--pages 100] [--ocr-pages 3] [--no-build]

Text extraction includes the compressed-stream check (rag.ingest.readers.pdf_streams).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.config import ReaderSettings, Settings  # noqa: E402
from rag.ingest.readers import pdf  # noqa: E402
from tests import documents_kit as kit  # noqa: E402

WORDS = ("harbour ships storm lighthouse keeper island ferry tide wind current museum archive "
         "coast village fishing pier customs house map volunteer").split()


def long_pdf(pages: int) -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.set_font("helvetica", size=10)
    for page in range(pages):
        document.add_page()
        sentences = [
            f"On page {page + 1} the {WORDS[(page + i) % len(WORDS)]} and the "
            f"{WORDS[(page * 3 + i) % len(WORDS)]} are described in sentence {i + 1}."
            for i in range(36)
        ]
        document.multi_cell(0, 5, " ".join(sentences))
    return bytes(document.output())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--ocr-pages", type=int, default=3)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    data = long_pdf(args.pages)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        extracted = pdf.read(data, ReaderSettings())
        runs.append(time.perf_counter() - started)
    runs.sort()
    print(f"text extraction: {args.pages} pages, {len(extracted.text):,} characters; median "
          f"{runs[1]:.2f} s = {args.pages / runs[1]:.1f} pages/s (runs {', '.join(f'{r:.2f}' for r in runs)})")
    if args.ocr_pages:
        scanned = [kit.scanned_pdf(kit.PAGE_TEXT[1 + i % 4]) for i in range(args.ocr_pages)]
        started = time.perf_counter()
        pdf.read(scanned[0], ReaderSettings())  # includes loading the OCR models
        first = time.perf_counter() - started
        started = time.perf_counter()
        for item in scanned[1:]:
            pdf.read(item, ReaderSettings())
        rest = time.perf_counter() - started
        if len(scanned) > 1:
            print(f"OCR: first page {first:.1f} s (with model load), then "
                  f"{(len(scanned) - 1) / rest:.2f} pages/s ({rest / (len(scanned) - 1):.1f} s a page)")
    if not args.no_build:
        from rag.store.build import build_index

        with tempfile.TemporaryDirectory() as folder:
            docs = Path(folder) / "docs"
            docs.mkdir()
            (docs / "long.pdf").write_bytes(data)
            settings = Settings.from_env(environ={}, docs_dir=docs, index_dir=Path(folder) / "index")
            report = build_index(settings)
            seconds = report.seconds
            print(f"index build of the {args.pages}-page PDF: {seconds['total']:.1f} s total "
                  f"({report.passages} passages, {report.sentences} sentences; "
                  + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items() if k != "total") + ")")
            again = build_index(settings).seconds  # forced: the extraction and embedding caches answer
            print(f"forced rebuild, nothing changed: {again['total']:.1f} s total (load {again['load']:.2f} s, "
                  "the PDF's text from the extraction cache; embeddings from the embedding cache)")


if __name__ == "__main__":
    main()
