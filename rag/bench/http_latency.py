"""Query latency through the HTTP API, for `rag bench`.

The bench's own throw-away index is served by the project's HTTP app (`rag.serve.api.create_app`,
the app that `app.py` mounts the page beside) under uvicorn, in a child process listening on
127.0.0.1 at a port the kernel picks: the deployment's own process boundary, event loop and JSON
encoding. One client holding one keep-alive connection (`http.client`, nothing between the socket
and the timer) posts the questions to /api/ask one at a time; a sample is the client's wall time
from sending the request to having read the whole response body.

`python -m rag.bench.http_latency SETTINGS_JSON` is that child: it opens the index, loads the model,
starts serving, prints its port on one line, and serves until it is terminated or its standard
input closes, so it cannot outlive the bench (even one that is killed).
"""

from __future__ import annotations

import http.client
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from rag.bench.processes import stop
from rag.config import Settings
from rag.errors import BenchError

START_TIMEOUT = 600.0
"""Seconds the child may take to open the index and load the model (a slow, shared machine)."""
REQUEST_TIMEOUT = 120.0
"""Seconds one request may take before the bench gives up (not a speed limit: a hang guard)."""
REPEATED = "hybrid_repeated_question"
"""The row of a question asked twice, timed the second time (its vector comes from the cache)."""


@dataclass(frozen=True)
class Server:
    """A child process serving an index over HTTP on 127.0.0.1:port."""

    port: int
    process: subprocess.Popen


def repeated_question_latency(settings: Settings, questions: Sequence[str]) -> dict[str, Any]:
    """p50/p95/p99 of POST /api/ask for a question asked a second time, served with the
    settings' question cache (its vector is remembered), as `rag bench` times it in-process.
    The new-question rows are timed by `rag bench` itself, alternating with in-process asks."""
    from rag.bench.stats import percentiles

    with serving(settings) as server, Client(server.port) as client:
        samples = []
        for question in questions:
            client.ask(question)
            samples.append(client.ask(question))
    return percentiles(samples)


@contextmanager
def serving(settings: Settings, python: str = sys.executable) -> Iterator[Server]:
    """The built index of `settings` served by a child process; stopped on leaving the block,
    whether it ends normally, by an error or by Ctrl-C."""
    root = str(Path(__file__).resolve().parents[2])  # the child imports this same `rag`
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty child never blocks
        process = subprocess.Popen(
            [python, "-m", "rag.bench.http_latency", json.dumps(settings_overrides(settings))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env,
        )
        try:
            yield Server(_read_port(process, errors), process)
        finally:
            stop(process)


class Client:
    """One keep-alive HTTP/1.1 connection to a local server; `ask` returns seconds taken."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info) -> None:
        self.connection.close()

    def ask(self, question: str, mode: str | None = None) -> float:
        """Post one question; the client's wall time in seconds. A refused request raises."""
        body = json.dumps({"question": question, **({"mode": mode} if mode else {})}).encode()
        for attempt in (1, 2):
            mark = time.perf_counter()
            try:
                self.connection.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()  # the server closed an idle keep-alive: reconnect once
                if attempt == 2:
                    raise
                continue
            seconds = time.perf_counter() - mark
            if response.status != 200:
                raise BenchError(
                    f"POST /api/ask answered {response.status}: {data[:300].decode(errors='replace')}"
                )
            return seconds
        raise AssertionError("unreachable")


def settings_overrides(settings: Settings) -> dict[str, Any]:
    """Every setting as a dotted key with a JSON value ("query.question_cache": 0, paths as
    strings): `settings_from` makes the same Settings from it in another process."""
    flat: dict[str, Any] = {}

    def walk(obj: Any, prefix: str) -> None:
        for f in fields(obj):
            value = getattr(obj, f.name)
            if is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                flat[prefix + f.name] = str(value) if isinstance(value, Path) else value

    walk(settings, "")
    return flat


def settings_from(overrides: dict[str, Any]) -> Settings:
    """The Settings that `settings_overrides` described."""
    overrides = dict(overrides)
    cache = overrides.pop("encoder_cache", None)  # a Path or None: not inferred from the default
    return Settings().with_overrides(**overrides, encoder_cache=Path(cache) if cache else None)


def _read_port(process: subprocess.Popen, errors) -> int:
    """The port the child prints once it listens; its error output if it exits or hangs first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            if line.strip().isdigit():
                return int(line)
            if not line:  # end of output: the child exited
                break
    try:
        process.wait(timeout=10)  # its output ended: it is exiting
    except subprocess.TimeoutExpired:
        pass
    errors.seek(0)
    lines = errors.read().decode(errors="replace").strip().splitlines()
    detail = " | ".join(line.strip() for line in lines[-3:]) or "no error output"
    state = f"exited with code {process.returncode}" if process.returncode is not None else (
        f"did not serve within {START_TIMEOUT:.0f} s")
    raise BenchError(f"the HTTP server of the bench {state}: {detail}")


def _serve(overrides: dict[str, Any]) -> None:
    """The child: serve the index of these settings on a free loopback port (see the docstring)."""
    import threading

    import uvicorn

    from rag.index import open_index
    from rag.serve.api import create_app

    index = open_index(settings=settings_from(overrides))
    index.embedder  # load the model now, not on the first question (as app.py does)
    # Port 0: uvicorn makes the listening socket itself, as for app.py. (A socket made here with
    # socket.socket() has proto 0, and asyncio then leaves Nagle on for its connections: every
    # response waited ~40 ms for the client's delayed ACK.)
    server = uvicorn.Server(uvicorn.Config(create_app(index), host="127.0.0.1", port=0,
                                           log_level="warning"))

    def announce_then_follow_parent() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.02)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)
        sys.stdin.read()  # returns when the parent closes the pipe or dies
        server.should_exit = True

    threading.Thread(target=announce_then_follow_parent, name="bench-announce", daemon=True).start()
    server.run()


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]))


__all__ = ["repeated_question_latency", "serving", "Client", "Server", "settings_overrides",
           "settings_from"]
