"""Benchmarks for `rag bench`: build and query latency in-process (`runner`) and through the HTTP
API served by a child process (`http_latency`), start-up (`startup`), the compute limit
(`compute`), FAISS and BM25 at scale (`scale`, `scale_vectors`, `scale_text`), the corpora, the
report and its statistics. Nothing here is a test: it measures and prints.

May import: the core and rag.serve (the HTTP child serves the real app). The core never imports it.
"""
