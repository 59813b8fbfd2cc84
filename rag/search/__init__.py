"""Retrieve and answer: a `Query` over a `Corpus` (query.py) ranked dense, lexical or fused
(`ranking`, `fusion`), follow-up questions (`followup`), and the extractive `answer`: verbatim
passages, their highlights, confidence and abstention.

May import: rag.config, rag.errors, rag.ingest, rag.embed, rag.store. Never a shell (serve, cli),
rag.evaluate or rag.bench.
"""
