"""Build (or refresh) the indexes of the tuning and test sets, with sentence vectors, niced:

    python eval/build_tuning.py covid-tuning scifact-slice covid-test scifact-full

covid-*: a half of COVID-QA into index/squad-200423_covidQA-<half>. scifact-slice: the SciFact
train slice (eval/train_ranker.py) and scifact-full: the whole corpus, both into ONE folder,
index/beir-scifact, so the full build reuses the slice's cached embeddings (keyed by text hash);
the SciFact slice with sentence vectors (a tuning set of the learned ranker and the abstainer), the
full SciFact corpus without them (as `rag eval` indexes BEIR; so the learned ranker is not used there).
"""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.evaluate.beir import load_beir, slice_beir  # noqa: E402
from rag.evaluate.indexes import eval_settings, open_beir_index  # noqa: E402
from rag.evaluate.squad import load_squad  # noqa: E402

COVID = ROOT.parent / "shared/bench-data/covid-qa/200423_covidQA.json"
SCIFACT = ROOT.parent / "shared/bench-data/scifact"
SCIFACT_INDEX = ROOT / "index" / "beir-scifact"


def main(targets: list[str]) -> None:
    for what in targets:
        started = time.time()
        if what.startswith("covid-"):
            half = what.split("-", 1)[1]
            data, folder = load_squad(COVID, half), ROOT / "index" / f"squad-200423_covidQA-{half}"
        elif what == "scifact-slice":
            data, folder = slice_beir(load_beir(SCIFACT, "train")), SCIFACT_INDEX
        elif what == "scifact-full":
            data, folder = load_beir(SCIFACT, "test"), SCIFACT_INDEX
        elif what == "scifact-test-slice":  # every test query, the same 2,000 distractors
            data, folder = slice_beir(load_beir(SCIFACT, "test"), every=1), SCIFACT_INDEX
        else:
            raise SystemExit(f"unknown target {what!r}")
        # The SciFact train slice with sentence vectors (since 2026-12-02), so the learned ranker
        # and the abstainer train on a third domain, one of paraphrased claims; the full test
        # corpus without them, as `rag eval` builds BEIR corpora (its ~60k sentences would take
        # longer than the whole tuning run on the shared 2-core machine).
        sentences = what == "scifact-slice" or what.startswith("covid-")
        settings = eval_settings(Settings.from_env(environ={}, index_dir=folder, embed_sentences=sentences), 300)
        open_beir_index(settings, data, say=print)
        print(f"{what}: built in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
