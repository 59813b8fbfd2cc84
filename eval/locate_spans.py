"""Write eval/questions-v2.jsonl from eval/v2/seeds_questions.py: each answer text is located in
its document (after the question was written) and stored with its character offset.

    python eval/locate_spans.py            # rewrites eval/questions-v2.jsonl, byte for byte the same
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval" / "v2"))

from rag.ingest.documents import load_folder  # noqa: E402
from seeds_questions import QUESTIONS  # noqa: E402


def main() -> None:
    texts = {d.source: d.text for d in load_folder(ROOT / "seeds").documents}
    lines = []
    for qid, kind, question, answers, history in QUESTIONS:
        located = []
        for source, text in answers:
            start = texts[source].find(text)
            if start < 0:
                raise SystemExit(f"{qid}: {text[:60]!r} is not in {source}")
            located.append({"file": source, "text": text, "start": start})
        row = {"id": qid, "question": question, "answers": located, "kind": kind, "split": "test"}
        if history:
            row["history"] = history
        lines.append(json.dumps(row, ensure_ascii=False))
    (ROOT / "eval" / "questions-v2.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} questions written")


if __name__ == "__main__":
    main()
