"""The web app: a Gradio chat page over the core API. Run: python app.py [--port N] [--host H]."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the retrieval QA web app.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; others must be asked for)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--docs-dir", type=Path, default=None, help="documents folder (default seeds/)")
    parser.add_argument("--index-dir", type=Path, default=None, help="index folder (default index/)")
    return parser.parse_args(argv)


def build_ui(index):
    """The Gradio Blocks page for an open index."""
    import gradio as gr

    from rag.errors import RagError
    from rag.present import answer_html

    def respond(question, messages, questions, sources, k, mode):
        messages = list(messages or [])
        try:
            answer = index.ask(question, k=int(k), sources=sources or None, mode=mode,
                               history=questions)
        except RagError as exc:
            messages += [{"role": "user", "content": question},
                         {"role": "assistant", "content": f"⚠️ {exc}"}]
            return messages, questions, ""
        messages += [{"role": "user", "content": question},
                     {"role": "assistant", "content": answer_html(answer)}]
        return messages, questions + [question], ""

    info = index.describe()
    with gr.Blocks(title="Ask the documents") as demo:
        gr.Markdown(
            f"### Ask the documents\nIndexed: {info['documents']} documents, {info['passages']} "
            f"passages · model {info['model']} · built {info['built']}"
        )
        chat = gr.Chatbot(label="Answers", height=560)
        questions = gr.State([])
        box = gr.Textbox(placeholder="Ask a question about the documents", show_label=False)
        with gr.Row():
            send = gr.Button("Ask", variant="primary")
            clear = gr.Button("Clear conversation")
        with gr.Accordion("Advanced", open=False):
            sources = gr.CheckboxGroup(index.sources(), label="Only these documents")
            k = gr.Slider(1, 10, value=index.settings.query.k, step=1, label="Passages")
            mode = gr.Radio(["hybrid", "dense", "lexical"], value=index.settings.query.mode,
                            label="Retrieval mode")
        inputs = [box, chat, questions, sources, k, mode]
        outputs = [chat, questions, box]
        box.submit(respond, inputs, outputs, api_name="ask")
        send.click(respond, inputs, outputs, api_name=False)
        clear.click(lambda: ([], [], ""), None, outputs, api_name=False)
    return demo


def main(argv=None) -> int:
    args = parse_args(argv)
    from rag.config import Settings
    from rag.errors import RagError
    from rag.index import ensure_index
    from rag.live import LiveIndex

    try:
        settings = Settings.from_env(docs_dir=args.docs_dir, index_dir=args.index_dir)
        # Live: a rebuild (e.g. `rag index --watch`) is picked up without restarting the app.
        index = LiveIndex(ensure_index(settings, progress=True, say=lambda m: print(m, flush=True)))
    except RagError as exc:
        print(f"app: error: {exc}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: anyone who can reach it can query the documents",
              file=sys.stderr)
    index.embedder  # load the model now, so the first question does not wait for it
    build_ui(index).queue().launch(server_name=args.host, server_port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
