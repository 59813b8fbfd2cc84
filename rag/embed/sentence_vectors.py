"""A build's passage vectors and sentence vectors, with as few forward passes as the method allows.

"separate" embeds every sentence on its own after its passage (one forward pass per passage and
one per sentence). "pooled" runs each passage once, keeping its token embeddings, and takes each
sentence's vector from them (`rag.embed.spans`): a sentence inside two overlapping passages is
pooled from both and the two vectors averaged (then normalised), so it does not depend on which
neighbour it happens to be read with. Only a sentence that lies in no passage whole (one cut into
pieces because it is longer than a passage) or whose span cannot be mapped is embedded alone.

Through the embedding cache, a pooled vector is kept under a key of its passage's text and its
span in it (never under the sentence's own text, whose key holds a vector embedded alone), so an
incremental build reuses them exactly and a rebuild equals a full build.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from rag.embed.embedder import Embedder
from rag.embed.spans import POOLED, SEPARATE, pooled_vectors
from rag.ingest.matching import match_text


@dataclass
class SentenceVectorReport:
    """How a build's sentence vectors were made, for the manifest."""

    method: str
    pooled: int = 0
    alone: int = 0
    seconds: dict = field(default_factory=dict)
    """Time of the passage pass (with pooling) and of the sentences embedded alone."""

    def record(self) -> dict:
        return {"method": self.method, "pooled": self.pooled, "embedded_alone": self.alone}


def pooled_key(passage: str, start: int, end: int) -> bytes:
    """The cache key of a sentence vector pooled from `passage` over [start, end)."""
    return hashlib.sha256(f"pooled\x00{start}\x00{end}\x00{passage}".encode("utf-8")).digest()


def containing(chunks: Sequence[tuple[int, object]], sentences: Sequence[tuple[int, object]]) -> list[list[int]]:
    """For each sentence (document number, span), the passages (numbers into `chunks`) holding it
    whole. Both lists are in document order, each document's spans by start, as a build makes them."""
    result: list[list[int]] = [[] for _ in sentences]
    by_doc: dict[int, list[int]] = {}
    for number, (doc, _) in enumerate(chunks):
        by_doc.setdefault(doc, []).append(number)
    first: dict[int, int] = {}
    for row, (doc, s) in enumerate(sentences):
        numbers = by_doc.get(doc, [])
        i = first.get(doc, 0)
        while i < len(numbers) and chunks[numbers[i]][1].end <= s.start:
            i += 1  # passages ending before this sentence hold no later one either
        first[doc] = i
        j = i
        while j < len(numbers) and chunks[numbers[j]][1].start <= s.start:
            if s.end <= chunks[numbers[j]][1].end:
                result[row].append(numbers[j])
            j += 1
    return result


def embed_build(
    method: str, model: Embedder, cache, documents, chunks, sentences, texts: list[str],
    progress: bool = False, with_sentences: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, SentenceVectorReport]:
    """(passage vectors, sentence vectors or None, report). `model` is the bare embedder, `cache`
    the CachedEmbedder over it or None; "pooled" falls back to "separate" for a model without
    `token_pooling` / `embed_tokens` (test doubles, workers), and the report says which was used."""
    encoder = cache if cache is not None else model
    mark = time.perf_counter()
    sentence_texts = [match_text(documents[d].text[s.start : s.end], documents[d].kind) for d, s in sentences]
    if not with_sentences:
        passages = encoder.embed(texts, progress=progress)
        return passages, None, SentenceVectorReport("none", seconds={"embed_passages": time.perf_counter() - mark})
    if method != POOLED or not getattr(model, "token_pooling", False):
        passages = encoder.embed(texts, progress=progress)
        middle = time.perf_counter()
        vectors = encoder.embed(sentence_texts, progress=progress)
        seconds = {"embed_passages": middle - mark, "embed_sentences": time.perf_counter() - middle}
        return passages, vectors, SentenceVectorReport(SEPARATE, alone=len(sentences), seconds=seconds)
    holders = containing(chunks, sentences)
    spans: list[list[tuple[int, int, int]]] = [[] for _ in chunks]  # (sentence row, start, end) in the passage text
    for row, numbers in enumerate(holders):
        d, s = sentences[row]
        for number in numbers:
            c = chunks[number][1]
            raw = documents[d].text[c.start : c.end]
            kind = documents[d].kind
            spans[number].append((row, len(match_text(raw[: s.start - c.start], kind)),
                                  len(match_text(raw[: s.end - c.start], kind))))
    keys = [[pooled_key(texts[n], a, b) for _, a, b in spans[n]] for n in range(len(chunks))]
    stored = cache.stored([k for ks in keys for k in ks]) if cache is not None else {}
    passages = np.zeros((len(chunks), model.dimension), dtype=np.float32)
    known = cache.stored_texts(texts) if cache is not None else {}
    todo = [n for n in range(len(chunks)) if texts[n] not in known or any(k not in stored for k in keys[n])]
    done = set(todo)
    for n in range(len(chunks)):
        if n not in done:
            passages[n] = known[texts[n]]
    fresh: dict[bytes, np.ndarray] = {}
    if todo:
        vectors, states = model.embed_tokens([texts[n] for n in todo])
        for n, vector, tokens in zip(todo, vectors, states):
            passages[n] = vector
            pooled = pooled_vectors(tokens, texts[n], [(a, b) for _, a, b in spans[n]],
                                    [sentence_texts[row] for row, _, _ in spans[n]])
            fresh.update((k, v) for k, v in zip(keys[n], pooled) if v is not None)
        if cache is not None:
            cache.remember_texts([texts[n] for n in todo], vectors)
            cache.remember(list(fresh), list(fresh.values()))
    if cache is not None:
        cache.use_texts([texts[n] for n in range(len(chunks)) if n not in done])
        cache.use([k for ks in keys for k in ks if k in stored])
    found = {**stored, **fresh}
    out = np.zeros((len(sentences), model.dimension), dtype=np.float32)
    alone = []
    for row in range(len(sentences)):
        parts = [found[k] for n in holders[row] for (r, _, _), k in zip(spans[n], keys[n]) if r == row and k in found]
        if not parts:
            alone.append(row)
            continue
        mean = np.mean(parts, axis=0)
        out[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    middle = time.perf_counter()
    if alone:
        out[alone] = encoder.embed([sentence_texts[row] for row in alone], progress=progress)
    seconds = {"embed_passages": middle - mark, "embed_sentences": time.perf_counter() - middle}
    return passages, out, SentenceVectorReport(POOLED, len(sentences) - len(alone), len(alone), seconds)
