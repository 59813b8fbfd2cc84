from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import ConfigError


def test_defaults_are_documented_values():
    settings = Settings.from_env(environ={})
    assert settings.query.k == 5 and settings.query.mode == "hybrid"
    assert settings.index.model == "all-MiniLM-L6-v2"
    assert settings.docs_dir == Path("seeds") and settings.index_dir == Path("index")


def test_environment_then_explicit_overrides():
    settings = Settings.from_env(environ={"RAG_K": "3", "RAG_MODE": "dense"}, k=4)
    assert settings.query.k == 4 and settings.query.mode == "dense"
    nested = Settings().with_overrides(**{"chunking.max_tokens": 200})
    assert nested.index.chunking.max_tokens == 200


@pytest.mark.parametrize(
    "overrides, message",
    [({"k": 0}, "k must be"), ({"mode": "fuzzy"}, "mode must be"), ({"nope": 1}, "unknown setting")],
)
def test_bad_settings_get_specific_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        Settings().with_overrides(**overrides)


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="RAG_K"):
        Settings.from_env(environ={"RAG_K": "five"})


@pytest.mark.parametrize("value, expected", [("0", False), ("off", False), ("No", False),
                                             ("1", True), ("TRUE", True), (" yes ", True)])
def test_on_off_environment_values(value, expected):
    assert Settings.from_env(environ={}).encoder_spinning is False
    assert Settings.from_env(environ={"RAG_ENCODER_SPINNING": value}).encoder_spinning is expected


def test_a_flag_that_is_neither_on_nor_off_names_the_variable():
    with pytest.raises(ConfigError, match="RAG_ENCODER_SPINNING"):
        Settings.from_env(environ={"RAG_ENCODER_SPINNING": "maybe"})


def test_encoder_streams_default_to_the_usable_cores_and_refuse_negatives(monkeypatch):
    from rag.store import build

    assert Settings.from_env(environ={"RAG_ENCODER_STREAMS": "3"}).encoder_streams == 3
    with pytest.raises(ConfigError, match="encoder_streams"):
        Settings(encoder_streams=-1).validate()
    made = {}
    monkeypatch.setattr("rag.embed.onnx_backend.OnnxEmbedder", lambda *args, **kwargs: made.update(kwargs))
    monkeypatch.setattr(build, "usable_cores", lambda: 5)
    build.load_embedder(Settings())
    assert made["streams"] == 5
    build.load_embedder(Settings(encoder_streams=1))
    assert made["streams"] == 1
