"""Read hostile-prone formats (PDF, DOCX, HTML) in a child process bounded in time and memory, so
a parser that hangs, loops, crashes or allocates without end (a PDF bomb, a zip bomb, a damaged
file) costs one file, never the build.

One child is started for a whole folder (spawned: a clean interpreter, no inherited threads),
with an address-space limit of `ReaderSettings.memory_mb`; each file must be read within
`ReaderSettings.timeout_s` seconds, else the child is killed and the next file gets a new one.
"""

from __future__ import annotations

import multiprocessing
import resource
import traceback

from rag.config import ReaderSettings
from rag.ingest.readers import Extracted, ReaderError, reader_for


def _child(connection, memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):  # a limit above the hard one: keep the hard one
        pass
    while True:
        try:
            job = connection.recv()
        except EOFError:
            return
        suffix, data, settings = job
        try:
            connection.send(("ok", reader_for(suffix)(data, settings)))
        except ReaderError as exc:
            connection.send(("skip", str(exc)))
        except MemoryError:
            connection.send(("skip", f"needs more than {memory_mb} MB of memory to read "
                                     "(setting readers.memory_mb): not indexed"))
        except BaseException as exc:  # noqa: BLE001 - a parser bug on one file
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            connection.send(("skip", f"could not be read ({detail[:300]}): not indexed"))


class IsolatedReader:
    """Reads files in a bounded child process; use as a context manager (the child is ended)."""

    def __init__(self, settings: ReaderSettings):
        self.settings = settings
        self._process = None
        self._connection = None

    def __enter__(self) -> "IsolatedReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, suffix: str, data: bytes) -> Extracted:
        """What the reader for `suffix` makes of `data`, or ReaderError (also for a timeout or a crash)."""
        if self._process is None or not self._process.is_alive():
            self._start()
        try:
            self._connection.send((suffix, data, self.settings))
            ready = self._connection.poll(self.settings.timeout_s)
            if not ready:
                self.close()
                raise ReaderError(f"took longer than {self.settings.timeout_s:g} s to read "
                                  "(setting readers.timeout_s): not indexed")
            status, value = self._connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            if self._process is not None:
                self._process.join(timeout=5)  # reap it, so its exit code (or signal) is known
            code = self._process.exitcode if self._process is not None else None
            self.close()
            raise ReaderError(
                f"made the reader process end (exit code {code}; out of memory over "
                f"{self.settings.memory_mb} MB, or a crash in the parser): not indexed"
            ) from None
        if status == "ok":
            return value
        raise ReaderError(value)

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_child, args=(child, self.settings.memory_mb), name="rag-reader", daemon=True
        )
        self._process.start()
        child.close()
        self._connection = parent

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(timeout=10)
            self._process = None
