"""The web app: the Gradio page and the HTTP API on one server, over one index loaded at start.
A thin entry point: it parses arguments and starts `rag.serve.page.build_app` under uvicorn.

Run: python app.py [--port N] [--host H] [--docs-dir DIR] [--index-dir DIR]
                  [--token TOKEN] [--auth USER:PASSWORD]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rag.serve.page import build_app, host_warning, start_watcher  # gradio is imported lazily


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the web page and the HTTP API.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all, with a warning)")
    parser.add_argument("--port", type=int, default=None,
                        help="port (default $GRADIO_SERVER_PORT, else 7860)")
    parser.add_argument("--docs-dir", type=Path, default=None, help="documents folder (default seeds/)")
    parser.add_argument("--index-dir", type=Path, default=None, help="index folder (default index/)")
    parser.add_argument("--no-watch", action="store_true",
                        help="do not rebuild the index when the documents change while serving")
    parser.add_argument("--token", default=os.environ.get("RAG_API_TOKEN") or None,
                        help="require 'Authorization: Bearer TOKEN' on /api (but /api/health) and "
                        "/view (default $RAG_API_TOKEN; none: open)")
    parser.add_argument("--auth", default=os.environ.get("RAG_AUTH") or None, metavar="USER:PASSWORD",
                        help="require this login for the page; a logged-in browser may also use "
                        "/api and /view (default $RAG_AUTH; none: open)")
    args = parser.parse_args(argv)
    if args.auth is not None:
        user, sep, password = args.auth.partition(":")
        if not (sep and user and password):
            parser.error("--auth (or RAG_AUTH) must be USER:PASSWORD, both non-empty")
        args.auth = (user, password)
    if args.port is None:
        try:
            args.port = int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
        except ValueError:
            parser.error(f"GRADIO_SERVER_PORT={os.environ['GRADIO_SERVER_PORT']!r} is not a port number")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from rag.config import Settings
    from rag.errors import RagError
    from rag.index import ensure_index
    from rag.live import LiveIndex

    try:
        settings = Settings.from_env(docs_dir=args.docs_dir, index_dir=args.index_dir)
        # Live: a rebuild (`rag index`, `rag index --watch`) is picked up without a restart.
        index = LiveIndex(ensure_index(settings, progress=True, say=lambda m: print(m, flush=True),
                                       check_freshness=False))
        index.embedder  # load the model now, not on the first question
    except RagError as exc:
        print(f"app: error: {exc}", file=sys.stderr)
        return 2
    if not args.no_watch:
        start_watcher(settings, index)
    warning = host_warning(args.host, protected=bool(args.token or args.auth))
    if warning:
        print(warning, file=sys.stderr)
    import uvicorn

    app = build_app(index, token=args.token, auth=args.auth)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving http://{shown}:{args.port}  (HTTP API under /api, docs at /api/docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
