"""Child processes the benchmarks start (servers, fresh interpreters): a free loopback port, and a
stop that leaves nothing running."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """Terminate `process` (SIGTERM, which lets a server shut down cleanly), kill it if it has not
    exited within `timeout` seconds, and close its pipes. Harmless on a process that has already
    exited; if waiting is interrupted (a second Ctrl-C) the process is killed before re-raising."""
    try:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


__all__ = ["free_port", "stop"]
