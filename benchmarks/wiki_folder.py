"""A Wikipedia-like folder for timing builds: 40 long articles, ~1.3 MB of plain text, made
deterministically from public text we have (the COVID-QA article contexts, CC-BY papers).

Issue 13 measured "the 40 Wikipedia articles we tried, 1.3 MB" at 235 s; that folder is not
here, so this one has the same shape: the 40 longest COVID-QA articles (ties by document id),
each cut at the last paragraph break before `--cap` bytes, one UTF-8 .txt file each.
It is a timing corpus only (its questions are COVID-QA's own evaluation sets, never used here).

    python benchmarks/wiki_folder.py /tmp/wiki40           # prints files and bytes
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "bench-data" / "covid-qa" / "200423_covidQA.json"
FILES = 40
CAP = 36_500
"""Bytes per file at most: the 40 cut at this size come to ~1.3 MB."""


def articles(source: Path = SOURCE) -> list[tuple[str, str]]:
    """(document id, context) of every COVID-QA article, longest first, ties by id."""
    data = json.loads(source.read_text(encoding="utf-8"))["data"]
    found = [(str(p["document_id"]), p["context"]) for a in data for p in a["paragraphs"]]
    return sorted(found, key=lambda item: (-len(item[1].encode("utf-8")), item[0]))


def cut(text: str, cap: int) -> str:
    """`text` up to its last paragraph break that keeps it within `cap` UTF-8 bytes."""
    if len(text.encode("utf-8")) <= cap:
        return text.rstrip() + "\n"
    head = text.encode("utf-8")[:cap].decode("utf-8", errors="ignore")
    end = head.rfind("\n\n")
    return (head[:end] if end > 0 else head).rstrip() + "\n"


def make_folder(target: Path, files: int = FILES, cap: int = CAP, source: Path = SOURCE) -> dict:
    """Write the folder (replacing its .txt files); returns files, bytes and a digest of the content."""
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.txt"):
        old.unlink()
    digest = hashlib.sha256()
    total = 0
    for number, (doc_id, text) in enumerate(articles(source)[:files], 1):
        body = cut(text, cap)
        path = target / f"article-{number:02d}-{doc_id}.txt"
        path.write_text(body, encoding="utf-8")
        data = body.encode("utf-8")
        total += len(data)
        digest.update(path.name.encode() + b"\0" + data)
    return {"folder": str(target), "files": files, "bytes": total, "sha256": digest.hexdigest()[:16]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--cap", type=int, default=CAP)
    args = parser.parse_args()
    print(json.dumps(make_folder(args.target, args.files, args.cap)))


if __name__ == "__main__":
    main()
