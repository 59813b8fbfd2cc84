"""SciFact on a slice: every query of a split, its judged abstracts and the same 2,000 distractors
(`rag.evaluate.beir.slice_beir`), indexed into index/beir-scifact (reusing cached embeddings).
For when the full corpus cannot be embedded in the time there is; not comparable with published
full-corpus figures (fewer distractors make it easier).

    python eval/scifact_slice.py test [KEY=VALUE ...]     # hybrid, prints nDCG@10, R@10, R@100
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.evaluate.beir import load_beir, slice_beir  # noqa: E402
from rag.evaluate.indexes import eval_settings, open_beir_index  # noqa: E402
from rag.evaluate.report import format_table  # noqa: E402
from rag.evaluate.runs import BEIR_PASSAGES, evaluate_beir  # noqa: E402


def main(split: str, overrides: list[str]) -> None:
    data = slice_beir(load_beir(ROOT.parent / "shared/bench-data/scifact", split), every=1 if split == "test" else 4)
    values = dict(item.split("=", 1) for item in overrides)
    values = {k: (float(v) if v.replace(".", "", 1).isdigit() else v) for k, v in values.items()}
    values = {k: (int(v) if isinstance(v, float) and v.is_integer() and k == "rrf_k" else v) for k, v in values.items()}
    settings = eval_settings(Settings.from_env(
        environ={}, index_dir=ROOT / "index" / "beir-scifact", embed_sentences=False, **values), BEIR_PASSAGES)
    index = open_beir_index(settings, data, say=print)
    print(f"{data.name}: {len(data.queries)} queries, {len(data.documents.documents)} abstracts")
    print(format_table(evaluate_beir(index, data, ["hybrid"], say=print)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test", sys.argv[2:])
