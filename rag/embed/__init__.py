"""Embed: text to unit-norm float32 vectors. The `Embedder` interface with its sentence-transformers
backend (`embedder`), the ONNX Runtime backend exported once offline (`onnx_backend`), and the
cache that keeps embeddings between builds by model and text hash (`cache`).

May import: rag.config, rag.errors, rag.ingest (sentence text clean-up, word-piece counts).
"""
