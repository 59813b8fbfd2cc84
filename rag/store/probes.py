"""Generic probe questions: what a question about nothing in particular scores against this
corpus. The best cosine a real question reaches means something only against that level (a
folder of encyclopedia articles answers everything with a higher cosine than five news
articles), so abstention reads the best cosine relative to it. A build scores them once and keeps
the level in its manifest (`probe_level`); it lives here, beside the build, for that reason."""

from __future__ import annotations

import numpy as np

PROBES = (
    "What is a good recipe for a chocolate cake?",
    "How do I change the oil in my car?",
    "Who won the football match last night?",
    "What will the weather be like tomorrow?",
    "How do I reset my email password?",
    "What are some tips for learning to play the guitar?",
    "Which stocks should I buy this year?",
    "How long should I cook pasta?",
    "What is the best way to train a puppy?",
    "How do I write a loop in JavaScript?",
    "Where can I go on holiday in the summer?",
    "How many hours of sleep does an adult need?",
    "What is the plot of the latest superhero movie?",
    "How do I grow tomatoes in my garden?",
    "What should I wear to a job interview?",
    "How do I fix a leaking tap?",
    "What are the rules of chess?",
    "Which smartphone has the best camera?",
    "How can I save money on groceries?",
    "What is the capital of Canada?",
)


def probe_level(vectors: np.ndarray, search) -> float:
    """The mean best passage cosine of the probe questions' `vectors`; `search(vectors, k)`
    returns (scores, ids) as a VectorStore does."""
    if not len(vectors):
        return 0.0
    scores, _ = search(np.asarray(vectors, dtype=np.float32), 1)
    return float(np.mean(scores[:, 0]))
