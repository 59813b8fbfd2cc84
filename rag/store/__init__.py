"""Index: the built index on disk. An atomic build (`build`: load -> chunk -> embed -> write, switched
to by a pointer), its self-describing `manifest`, the SQLite `chunkstore` of documents, passages and
sentences, the `VectorStore` interface (`vectors`) with its FAISS backend (`faiss_store`), the
BM25 `lexical` index, and `watch`, which rebuilds when the folder changes.

May import: rag.config, rag.errors, rag.ingest, rag.embed. Never rag.search or anything later.
"""
