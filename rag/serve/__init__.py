"""Present: the shells over the core API for people and scripts on the web. The HTTP API and source
viewer (`api`), all of the page's HTML (`render`), and the Gradio page and whole server (`page`),
which `app.py` starts. No retrieval logic lives here: handlers parse, call `Index.ask`, render.

May import: the core (rag.index, rag.live, rag.search, rag.store, ...). Nothing imports it but
app.py, rag.bench (the HTTP latency child) and the tests.
"""
