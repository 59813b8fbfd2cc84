"""The Gradio page and the whole server (the HTTP API with the page mounted at /) for an open
index, and the folder watcher that keeps it current. `app.py` only parses arguments and starts it.
"""

from __future__ import annotations

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
STATUS_EVERY_SECONDS = 5.0
"""How often an open page checks whether the index switched to a new build (a tiny read on the
server; nothing is sent back unless it did), to update its status line and documents list."""
EXAMPLES = (
    ("What did NATO's Secretary General say about North Korean troops in Ukraine?",
     "004_5d5c85c0ad26f8dd.txt"),
    ("How much artillery ammunition has Pyongyang sent Moscow since 2023, counted in containers?",
     "001_7b96f2a4aa5ded35.txt"),
    ("In which earlier war did North Korean pilots secretly fight?", "002_b0a906fabdead24a.txt"),
    ("What did Andriy Yermak say was forming across the planet?", "003_0998b58f91dd8604.txt"),
    ("Who does one analysis name as the real winner of the Russia–North Korea arrangement?",
     "000_526aaf833095b6c5.txt"),
)
"""Example questions for a first visit, each shown only when the document it is about is indexed."""


def host_warning(host: str, protected: bool = False) -> str | None:
    """The warning printed when the server is reachable from other machines."""
    if host in LOCAL_HOSTS:
        return None
    if protected:
        return (f"warning: listening on {host}: reachable from other machines, behind the login "
                "or token given (plain HTTP: use it only on a trusted network or behind TLS)")
    return (f"warning: listening on {host}: anyone who can reach this machine on that interface "
            "can read the indexed documents and query them (protect it with --auth and --token)")


def index_status(index, shown: str | None, selected):
    """Updates for the page's (header, documents checklist, shown build name) when the index now
    answers from another build than `shown` (a LiveIndex switches first if a newer one is ready);
    gr.skip() for each when it does not. Documents still indexed stay selected."""
    import gradio as gr

    from rag.serve.render import header_html

    reload = getattr(index, "reload_if_changed", None)  # a LiveIndex; a plain Index never changes
    if reload is not None:
        reload(wait=False)
    current = getattr(index, "current", index)  # one build for all three answers
    build = current.build.name
    if build == shown:
        return gr.skip(), gr.skip(), gr.skip()
    documents = sorted(current.sources())
    kept = [source for source in (selected or []) if source in documents]
    return header_html(current.describe()), gr.update(choices=documents, value=kept), build


def build_ui(index):
    """The Gradio Blocks page for an open index; `ask` is also its Gradio client API."""
    import gradio as gr

    from rag.errors import RagError
    from rag.serve.render import (CONVERSATION_JS, PANEL_JS, SOURCE_PANEL, UPLOAD_HTML, UPLOAD_JS, Turn,
                                  conversation_html, header_html)

    def respond(question, turns, sources, k, mode):
        turns = list(turns or [])
        if not (question or "").strip():
            return conversation_html(turns), turns, question
        history = [t.question for t in turns if t.answer is not None]
        try:
            answer = index.ask(question, k=int(k), sources=sources or None, mode=mode, history=history)
            turns.append(Turn(answer.question, answer=answer))
        except RagError as exc:
            turns.append(Turn(question, error=str(exc)))
        return conversation_html(turns), turns, ""

    def clear():
        return conversation_html([]), [], ""

    def ask(question: str, k: int = index.settings.query.k, sources: list[str] | None = None,
            mode: str = index.settings.query.mode, history: list[str] | None = None) -> dict:
        """Answer a question; returns the same JSON object as `rag ask --json` and POST /api/ask."""
        try:
            return index.ask(question, k=k, sources=sources or None, mode=mode,
                             history=history or ()).to_dict()
        except RagError as exc:
            raise gr.Error(str(exc)) from None

    current = getattr(index, "current", index)
    indexed = set(current.sources())
    examples = [[question] for question, source in EXAMPLES if source in indexed]
    with gr.Blocks(title="Ask the documents", analytics_enabled=False) as demo:
        header = gr.HTML(header_html(current.describe()), elem_id="header", js_on_load=None)
        shown = gr.State(current.build.name)
        conversation = gr.HTML(conversation_html([]), elem_id="conversation",
                               js_on_load=CONVERSATION_JS, apply_default_css=False,
                               min_height=160, max_height="66vh")
        turns = gr.State([])
        with gr.Row(equal_height=True):
            box = gr.Textbox(placeholder="Ask a question about the documents", show_label=False,
                             lines=1, max_lines=4, scale=5, min_width=200, elem_id="question",
                             autofocus=True)
            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
            reset = gr.Button("Clear", scale=1, min_width=80, elem_id="clear")
        if examples:
            gr.Examples(examples, inputs=[box], label="Try")
        with gr.Accordion("Advanced", open=False, elem_id="advanced"):
            sources = gr.CheckboxGroup(sorted(indexed), label="Only these documents (none = all)")
            k = gr.Slider(1, 10, value=index.settings.query.k, step=1, label="Passages per answer")
            mode = gr.Radio(["hybrid", "dense", "lexical"], value=index.settings.query.mode,
                            label="Retrieval mode",
                            info="hybrid fuses meaning (dense) and shared words (lexical, BM25)")
        with gr.Accordion("Add documents", open=False, elem_id="add-documents"):
            gr.HTML(UPLOAD_HTML, js_on_load=UPLOAD_JS, apply_default_css=False, elem_id="upload")
        gr.HTML(SOURCE_PANEL, js_on_load=PANEL_JS, apply_default_css=False, elem_id="source-holder")

        inputs = [box, turns, sources, k, mode]
        outputs = [conversation, turns, box]
        # The status line and documents list follow the build answers come from: checked when
        # the page loads, after each answer, and every few seconds.
        status = dict(fn=lambda shown_build, selected: index_status(index, shown_build, selected),
                      inputs=[shown, sources], outputs=[header, sources, shown],
                      show_progress="hidden", api_visibility="private", concurrency_limit=None)
        box.submit(respond, inputs, outputs, api_visibility="private").then(**status)
        send.click(respond, inputs, outputs, api_visibility="private").then(**status)
        reset.click(clear, None, outputs, api_visibility="private")
        demo.load(**status)
        gr.Timer(STATUS_EVERY_SECONDS).tick(**status)
        gr.api(ask, api_name="ask")
    return demo


def build_app(index, token: str | None = None, auth: tuple[str, str] | None = None):
    """The whole server: the HTTP API and source viewer (rag.serve.api) with the page mounted at /.

    `token` guards /api and /view; `auth` (user, password) is the page's Gradio login, and a
    browser logged in with it may read /api and /view too (the page's source links open /view).
    """
    import gradio as gr

    from rag.serve.api import create_app
    from rag.serve.render import PAGE_CSS

    theme = gr.themes.Default(
        # System fonts: the page fetches nothing from outside this server.
        font=[gr.themes.Font("system-ui"), gr.themes.Font("-apple-system"), "Segoe UI", "sans-serif"],
        font_mono=[gr.themes.Font("ui-monospace"), "SFMono-Regular", "Menlo", "monospace"],
    )
    demo = build_ui(index).queue(default_concurrency_limit=4)
    page = []  # the mounted Gradio app, known only after mounting; read by `logged_in`

    def logged_in(cookies) -> bool:
        app = page[0] if page else None
        return app is not None and any(
            app.tokens.get(value) is not None for name, value in cookies.items()
            if name in (f"access-token-{app.cookie_id}", f"access-token-unsecure-{app.cookie_id}"))

    server = gr.mount_gradio_app(create_app(index, token=token, session=logged_in if auth else None),
                                 demo, path="/", theme=theme, css=PAGE_CSS, ssr_mode=False,
                                 footer_links=["api"], auth=auth)
    page.extend(route.app for route in server.routes if getattr(route, "app", None) is not None
                and hasattr(route.app, "cookie_id"))
    return server


def start_watcher(settings, index) -> None:
    """Keep the index in step with the documents while serving: a daemon thread rebuilds
    (incrementally, atomically) when a file changes, and the LiveIndex answers from the new build.
    Until that build completes, answers come from the previous complete build."""
    import threading

    from rag.store.watch import watch

    say = lambda message: print(f"index: {message}", flush=True)  # noqa: E731
    thread = threading.Thread(
        target=watch, name="rag-watch", daemon=True,
        kwargs={"settings": settings, "embedder": index.embedder, "say": say},
    )
    thread.start()
