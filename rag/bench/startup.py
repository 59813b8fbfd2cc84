"""Start-up figures for `rag bench`, in fresh processes: `rag --help`, a warm `rag ask` split into
its parts, and how long `app.py` takes until its page answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rag.config import Settings


def startup_figures(
    settings: Settings, python: str = sys.executable, index_dir: Path | None = None
) -> dict[str, Any]:
    """Start-up in fresh processes: `rag --help` (and whether it imports torch), and a warm
    `rag ask` split into opening the index, loading the model, and answering."""
    probe = (
        "import sys, time; t0 = time.perf_counter()\n"
        "from rag.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "print(round(time.perf_counter() - t0, 3), 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "RAG_BACKEND": settings.index.backend, "RAG_MODEL": settings.index.model}
    if settings.threads:
        env["RAG_THREADS"] = str(settings.threads)
    if settings.encoder_cache:
        env["RAG_ENCODER_CACHE"] = str(settings.encoder_cache)
    mark = time.perf_counter()
    out = _run([python, "-c", probe], env)
    help_wall = time.perf_counter() - mark
    help_s, torch_loaded = out.split()
    figures: dict[str, Any] = {
        "help_process_s": round(help_wall, 3),
        "help_in_process_s": float(help_s),
        "help_imports_torch": torch_loaded == "True",
    }
    ask = (
        "import sys, time, json; t0 = time.perf_counter()\n"
        "from rag.index import open_index\n"
        f"index = open_index({str(index_dir) if index_dir else None!r}); t1 = time.perf_counter()\n"
        "index.embedder; t2 = time.perf_counter()\n"
        "index.ask('Who is Mark Rutte?'); t3 = time.perf_counter()\n"
        "print(json.dumps({'open_index_s': t1 - t0, 'model_load_s': t2 - t1, 'first_answer_s': t3 - t2,"
        " 'torch_loaded': 'torch' in sys.modules}))\n"
    )
    mark = time.perf_counter()
    try:
        split = json.loads(_run([python, "-c", ask], env))
    except RuntimeError as exc:
        figures["ask_error"] = str(exc)[-300:]
        return figures
    figures["ask_process_s"] = round(time.perf_counter() - mark, 3)
    figures.update({k: round(v, 3) if isinstance(v, float) else v for k, v in split.items()})
    if index_dir is not None and Path("app.py").is_file():
        figures["app_ready_s"] = app_ready_seconds(python, settings.docs_dir, index_dir, env)
    return figures


def app_ready_seconds(python: str, docs_dir: Path, index_dir: Path, env: dict[str, str]) -> float | None:
    """Seconds from starting `app.py` on a free local port (index already built) until its page
    answers; the app loads the model before it starts serving. None if it never does in 180 s."""
    import urllib.request

    from rag.bench.processes import free_port, stop

    port = free_port()
    mark = time.perf_counter()
    process = subprocess.Popen(
        [python, "app.py", "--port", str(port), "--docs-dir", str(docs_dir), "--index-dir", str(index_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        while time.perf_counter() - mark < 180 and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return round(time.perf_counter() - mark, 3)
            except OSError:
                time.sleep(0.1)
        return None
    finally:
        stop(process)


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"exit code {done.returncode}")
    return done.stdout.strip().splitlines()[-1]
