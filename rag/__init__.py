"""Retrieval-only question answering over a folder of documents: verbatim, cited passages."""

__version__ = "0.1.0"

_EXPORTS = {
    "open_index": "rag.index",
    "ensure_index": "rag.index",
    "Index": "rag.index",
    "build_index": "rag.store.build",
    "Settings": "rag.config",
    "Answer": "rag.search.answer",
    "Passage": "rag.search.answer",
    "RagError": "rag.errors",
}


def __getattr__(name):
    # Lazy, so that `import rag` (and `rag --help`) stays free of torch and FAISS.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")


__all__ = list(_EXPORTS)
