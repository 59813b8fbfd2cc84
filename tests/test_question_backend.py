"""`question_backend`: questions embedded by the same model run another way (int8) while the
passages keep the index's vectors; a model that cannot be run that way is an error."""

import numpy as np
import pytest

from rag.config import QuerySettings, Settings
from rag.errors import ConfigError
from rag.index import Index


def test_an_unknown_question_backend_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="question_backend must be auto, empty or one of torch, onnx, onnx-int8"):
        QuerySettings(question_backend="int4").validate()
    QuerySettings(question_backend="").validate()
    assert QuerySettings().question_backend == "auto"
    assert Settings.from_env(environ={"RAG_QUESTION_BACKEND": "onnx-int8"}).query.question_backend == "onnx-int8"


def test_auto_embeds_questions_in_int8_only_over_float32_onnx_indexes_with_sentence_vectors():
    auto = QuerySettings()
    assert auto.question_backend_for("onnx", sentences=True) == "onnx-int8"
    assert auto.question_backend_for("onnx", sentences=False) == "onnx"  # the passage ranker's kind
    assert auto.question_backend_for("torch", sentences=True) == "torch"
    assert auto.question_backend_for("onnx-int8", sentences=True) == "onnx-int8"
    assert QuerySettings(question_backend="").question_backend_for("onnx", sentences=True) == "onnx"
    assert QuerySettings(question_backend="onnx-int8").question_backend_for("onnx", sentences=False) == "onnx-int8"


class _Exports:
    """A test embedder that records which sibling graphs a build asks it to export."""

    def __init__(self, inner):
        self.inner, self.exported = inner, []

    def export_sibling(self, backend):
        self.exported.append(backend)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("overrides, exported", [
    ({}, ["onnx-int8"]),  # so that the first question does not wait for the export
    ({"question_backend": ""}, []),
    ({"embed_sentences": False}, []),
    ({"backend": "torch"}, []),
])
def test_a_build_exports_the_question_graph_when_questions_run_another_way(
        tiny_settings, keyword_embedder, overrides, exported):
    from rag.store.build import build_index

    spy = _Exports(keyword_embedder)
    build_index(tiny_settings.with_overrides(**overrides), embedder=spy)
    assert spy.exported == exported


def test_a_model_that_cannot_run_so_is_a_clear_error_not_a_silent_fallback(tiny_settings, keyword_embedder):
    from rag.errors import ModelError
    from rag.index import ensure_index

    index = ensure_index(tiny_settings, embedder=keyword_embedder)
    plain = Index(index.build, tiny_settings, keyword_embedder)
    assert plain.question_embedder is keyword_embedder and plain.ask("banana").passages
    other = Index(index.build, tiny_settings.with_overrides(question_backend="onnx-int8"), keyword_embedder)
    with pytest.raises(ModelError, match="keyword-test"):
        other.ask("banana")


@pytest.mark.slow
def test_int8_questions_over_float32_passages(seed_index, embedder, tmp_path):
    settings = seed_index.settings.with_overrides(question_backend="onnx-int8", encoder_cache=tmp_path)
    own = embedder  # the model the seed index was built with (torch there, to save an export)
    assert seed_index.manifest.data["model"]["backend"] == own.identity["backend"]
    index = Index(seed_index.build, settings, own, check_freshness=False)
    questions = index.question_embedder
    assert questions is not own and questions.identity["backend"] == "onnx-int8"
    assert index.embedder is own  # passages (and rebuilds) keep the index's own model
    question = "Who welcomed Belousov in Pyongyang?"
    exact, quantised = embedder.embed([question])[0], questions.embed([question])[0]
    assert float(np.dot(exact, quantised)) > 0.97
    answer = index.ask(question)
    assert answer.answered and answer.passages[0].source == seed_index.ask(question).passages[0].source
    again = index.reopen(check_freshness=False)
    assert again.question_embedder is questions  # a hot swap keeps the loaded question encoder


def test_auto_falls_back_to_the_index_model_when_the_int8_graph_cannot_be_written(
        tiny_settings, keyword_embedder, caplog):
    from rag.index import ensure_index
    from tests.conftest import KeywordEmbedder

    class ReadOnlyCache(KeywordEmbedder):
        """A float32 ONNX model whose encoder cache cannot take the int8 export (an index built
        before int8 questions, served read-only)."""

        def sibling(self, backend):
            raise PermissionError(13, "Permission denied", "/srv/index/encoders")

    own = ReadOnlyCache(["apple", "banana", "cherry", "river", "mountain", "train"])
    own.identity = {**keyword_embedder.identity, "backend": "onnx"}
    index = ensure_index(tiny_settings, embedder=own)
    with caplog.at_level("WARNING", logger="rag.index"):
        assert index.question_embedder is own and index.ask("banana").passages
    assert "cannot make the onnx-int8 question encoder" in caplog.text and "Permission denied" in caplog.text
    named = Index(index.build, tiny_settings.with_overrides(question_backend="onnx-int8"), own)
    with pytest.raises(PermissionError):  # asked for by name: an error, not a fallback
        named.question_embedder
