"""Sentence vectors pooled from their passage's token embeddings (rag/embed/spans.py,
rag/embed/sentence_vectors.py), with a hand-made token embedder whose vectors can be worked out."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rag.embed.spans import TokenStates, folded_span, pool_spans, pooled_vectors
from rag.ingest.sentences import normalize
from tests.conftest import KeywordEmbedder


class TokenKeywordEmbedder(KeywordEmbedder):
    """Word pieces are whitespace words; a piece's state is its word's one-hot (the 'other'
    dimension for any other word); a text's vector, alone or from `embed_tokens`, is the
    normalised mean of its pieces' states, as mean pooling makes it. `passes` counts texts run through `embed_tokens`."""

    token_pooling = True

    def __init__(self, vocabulary):
        super().__init__(vocabulary)
        self.passes = 0
        self.alone: list[str] = []
        """Texts given to `embed` (embedded alone)."""

    def _states(self, text: str) -> TokenStates:
        spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        states = np.zeros((len(spans), self.dimension), dtype=np.float32)
        for row, (a, b) in enumerate(spans):
            word = re.sub(r"[^a-z0-9]", "", text[a:b].lower())
            states[row, self.vocabulary.index(word) if word in self.vocabulary else -1] = 1.0
        return TokenStates(text, np.array(spans, dtype=np.int64).reshape(-1, 2), states)

    def _pool(self, texts):
        tokens = [self._states(normalize(t)) for t in texts]
        vectors = np.array([t.states.mean(axis=0) for t in tokens], dtype=np.float32).reshape(-1, self.dimension)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), tokens

    def embed(self, texts, progress=False):
        self.calls += 1
        self.alone.extend(texts)
        return self._pool(texts)[0]

    def embed_tokens(self, texts):
        self.passes += len(texts)
        return self._pool(texts)


def unit(vector):
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_a_span_maps_into_the_folded_text():
    raw = "Apple  pie.\n\n  Banana   split here."
    folded = normalize(raw)
    start = raw.index("Banana")
    begin, end = folded_span(raw, start, len(raw))
    assert folded[begin:end] == "Banana split here."
    assert folded_span(raw, 0, raw.index(".") + 1) == (0, len("Apple pie."))


def test_pooling_is_the_normalised_mean_of_the_pieces_inside_the_span():
    states = np.array([[1, 0], [0, 1], [0, 1], [1, 1]], dtype=np.float32)
    tokens = TokenStates("aa bb cc dd", np.array([[0, 2], [3, 5], [6, 8], [9, 11]]), states)
    both, tail, none = pool_spans(tokens, [(3, 8), (6, 11), (12, 12)])
    assert np.allclose(both, [0, 1])
    assert np.allclose(tail, unit([1, 2]))
    assert none is None
    # a span whose text is not where the mapping says is not pooled (the caller embeds it alone)
    assert pooled_vectors(tokens, "aa bb cc dd", [(3, 5)], ["zz"]) == [None]


def _cut(embedder, text: str):
    from rag.config import ChunkingSettings
    from rag.ingest.chunking import Chunker
    from rag.ingest.documents import Document

    document = Document(source="a.txt", text=text, sha256="0")
    chunker = Chunker(ChunkingSettings(max_tokens=16, overlap_tokens=8, min_section_tokens=4),
                      embedder.count_tokens, embedder.max_tokens, True)
    sentences = chunker.sentences(document)
    chunks = chunker.chunk(document, sentences)
    return [document], [(0, c) for c in chunks], [(0, s) for s in sentences], [text[c.start:c.end] for c in chunks]


TEXT = ("The apple fell. A banana and a cherry. The river runs down the mountain. "
        "A train crosses the river. Apple trees by the train line. Cherry and banana again.")


def test_pooled_build_vectors_come_from_the_passages_and_overlaps_are_averaged():
    from rag.embed.sentence_vectors import containing, embed_build

    embedder = TokenKeywordEmbedder(["apple", "banana", "cherry", "river", "mountain", "train"])
    documents, chunks, sentences, texts = _cut(embedder, TEXT)
    holders = containing(chunks, sentences)
    assert len(chunks) > 2 and any(len(h) == 2 for h in holders)  # overlap: some sentences in two passages
    passages, vectors, report = embed_build("pooled", embedder, None, documents, chunks, sentences, texts)
    assert report.method == "pooled" and report.pooled == len(sentences) and report.alone == 0
    assert embedder.passes == len(chunks) and embedder.calls == 0  # no forward pass per sentence
    assert all(h == [n for n, (_, c) in enumerate(chunks) if c.start <= s.start and s.end <= c.end]
               for h, (_, s) in zip(holders, sentences))
    for row, (_, s) in enumerate(sentences):
        # each holder pools the same words (this model has no context), so the mean is the
        # sentence's own vector: what the keyword model gives it alone
        assert np.allclose(vectors[row], embedder.embed([TEXT[s.start:s.end]])[0], atol=1e-6)
    assert np.allclose(passages, embedder.embed(texts), atol=1e-6)


def test_an_overlapping_sentence_gets_the_mean_of_its_two_pooled_vectors():
    from rag.embed.sentence_vectors import containing, embed_build

    class Contextual(TokenKeywordEmbedder):
        """Each piece also carries its passage's mean: pooled vectors depend on context."""

        def _states(self, text):
            tokens = super()._states(text)
            return TokenStates(tokens.text, tokens.offsets, tokens.states + tokens.states.mean(axis=0))

    embedder = Contextual(["apple", "banana", "cherry", "river", "mountain", "train"])
    documents, chunks, sentences, texts = _cut(embedder, TEXT)
    holders = containing(chunks, sentences)
    row = next(r for r, h in enumerate(holders) if len(h) == 2)
    _, vectors, _ = embed_build("pooled", embedder, None, documents, chunks, sentences, texts)
    s = sentences[row][1]
    each = []
    for number in holders[row]:
        c = chunks[number][1]
        _, (tokens,) = embedder.embed_tokens([texts[number]])
        each.append(pooled_vectors(tokens, texts[number], [(s.start - c.start, s.end - c.start)],
                                   [TEXT[s.start:s.end]])[0])
    assert not np.allclose(each[0], each[1])
    assert np.allclose(vectors[row], unit(each[0] + each[1]), atol=1e-6)


def test_a_sentence_in_no_passage_whole_is_embedded_alone():
    from rag.embed.sentence_vectors import embed_build

    embedder = TokenKeywordEmbedder(["apple", "banana", "river"])
    long = "Apple " + "apple " * 30 + "banana river."
    documents, chunks, sentences, texts = _cut(embedder, "The river. " + long)
    assert documents[0].text[sentences[-1][1].start:] == long
    assert len(chunks) > 2  # the long sentence is cut into pieces: no passage holds it whole
    _, vectors, report = embed_build("pooled", embedder, None, documents, chunks, sentences, texts)
    assert report.alone == 1 and report.pooled == len(sentences) - 1
    assert np.allclose(vectors[-1], embedder.embed([long.strip()])[0], atol=1e-6)


def test_separate_and_models_without_tokens_embed_every_sentence_alone(keyword_embedder):
    from rag.embed.sentence_vectors import embed_build

    documents, chunks, sentences, texts = _cut(keyword_embedder, TEXT)
    for method, model in (("separate", TokenKeywordEmbedder(keyword_embedder.vocabulary)), ("pooled", keyword_embedder)):
        _, vectors, report = embed_build(method, model, None, documents, chunks, sentences, texts)
        assert report.method == "separate" and report.alone == len(sentences)
        assert np.allclose(vectors, model.embed([TEXT[s.start:s.end] for _, s in sentences]))


def test_pooled_vectors_are_cached_under_their_passage_and_a_rebuild_runs_no_model(tmp_path):
    from rag.embed.cache import CachedEmbedder
    from rag.embed.sentence_vectors import embed_build

    embedder = TokenKeywordEmbedder(["apple", "banana", "cherry", "river", "mountain", "train"])
    documents, chunks, sentences, texts = _cut(embedder, TEXT)
    cache = CachedEmbedder(embedder, tmp_path)
    first = embed_build("pooled", embedder, cache, documents, chunks, sentences, texts)
    assert cache.embedded == len(chunks) and embedder.passes == len(chunks)
    again = CachedEmbedder(embedder, tmp_path)
    second = embed_build("pooled", embedder, again, documents, chunks, sentences, texts)
    assert embedder.passes == len(chunks) and again.embedded == 0 and again.reused == len(chunks)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    # the sentence's own text key holds nothing pooled: a separate build still embeds it alone
    assert not again.stored_texts([TEXT[s.start:s.end] for _, s in sentences])


@pytest.mark.parametrize("recorded, wanted, stale", [
    ({}, "pooled", True),  # a build from before the setting: its sentences were embedded alone
    ({}, "separate", False),
    ({"sentence_vectors": "pooled"}, "separate", True),
    ({"sentence_vectors": "pooled", "embed_sentences": False}, "separate", False),  # no sentence vectors at all
    ({"sentence_vectors": "pooled", "made": "separate"}, "pooled", True),  # asked pooled, made alone (Ray workers)
])
def test_the_sentence_vector_method_is_part_of_the_index_identity(recorded, wanted, stale):
    from rag.config import IndexSettings
    from rag.store.manifest import READERS_FORMAT, Manifest

    settings = IndexSettings().to_dict()
    settings.pop("sentence_vectors")
    made = recorded.pop("made", None)
    built = Manifest({"model": {"name": "all-MiniLM-L6-v2"}, "docs_dir": None, "readers_format": READERS_FORMAT,
                      "settings": {**settings, **recorded},
                      **({"sentence_vectors": {"method": made}} if made else {})})
    embed = recorded.get("embed_sentences", True)
    reasons = built.stale_reasons(IndexSettings(sentence_vectors=wanted, embed_sentences=embed))
    assert bool(reasons) == stale, reasons
    if stale:
        assert "sentence_vectors changed" in reasons[0]


def test_a_build_records_how_its_sentence_vectors_were_made(tiny_settings):
    import json

    from rag.store.build import build_index

    embedder = TokenKeywordEmbedder(["apple", "banana", "cherry", "river", "mountain", "train"])
    report = build_index(tiny_settings.with_overrides(sentence_vectors="pooled"), embedder=embedder)
    data = json.loads((report.build / "manifest.json").read_text())
    assert data["sentence_vectors"] == {"method": "pooled", "pooled": report.sentences, "embedded_alone": 0}
    assert data["settings"]["sentence_vectors"] == "pooled"
    assert embedder.passes == report.passages
    # nothing of the documents was embedded alone (the build's probe questions may be)
    sentences = {s for path in tiny_settings.docs_dir.iterdir() for s in path.read_text().replace("\n", " ").split(". ")}
    assert not any(text.strip(" .#") in s or s in text for text in embedder.alone for s in sentences if s.strip())


def test_pooled_sentence_vectors_on_ray_workers_are_refused_with_the_fix():
    from rag.config import Settings
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="without --workers"):
        Settings.from_env(environ={}, workers=2, sentence_vectors="pooled")
    assert Settings.from_env(environ={}, workers=2).index.sentence_vectors == "separate"
    assert Settings.from_env(environ={"RAG_SENTENCE_VECTORS": "pooled"}).index.sentence_vectors == "pooled"
    with pytest.raises(ConfigError, match="pooled or separate"):
        Settings.from_env(environ={"RAG_SENTENCE_VECTORS": "both"})
