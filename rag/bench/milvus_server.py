"""Start and stop a Milvus standalone server (the PyPI package `milvus`, 2.3.5) on 127.0.0.1 only.

For the standalone-server test and `rag bench`; the product never starts a server (it connects to
the one named by `milvus_uri`). The package ships the server binary compressed; its own launcher
leaves every `ip:` line empty, so Milvus would bind the machine's network address: we write the
configuration ourselves, with every port free on loopback and every `ip:` set to 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)(?:\((\w+)\))?\s*(?::\s*([^}]*?))?\s*\}\}")


class ServerUnavailable(RuntimeError):
    """The server cannot be started here; the message says why (callers skip with it)."""


@dataclass
class MilvusServer:
    """A running standalone server: `uri` to connect to, `stop()` to end it."""

    process: subprocess.Popen
    uri: str
    folder: Path
    health_port: int

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        path = self.folder / "logs" / "milvus-stderr.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start(folder: Path, timeout: float = 90.0) -> MilvusServer:
    """Start a server with its data, configuration and logs in `folder`; ServerUnavailable (with
    the reason) when the package is missing or the server is not healthy within `timeout` s."""
    try:
        import milvus  # the PyPI package `milvus`, not pymilvus
    except ImportError:
        raise ServerUnavailable("the Milvus standalone server is not installed: pip install milvus==2.3.5") from None
    if not hasattr(milvus, "_initialize_data_files"):
        raise ServerUnavailable(f"the installed `milvus` package ({milvus.__file__}) is not the 2.3.x server")
    folder = Path(folder).resolve()
    for sub in ("configs", "logs", "data", "run"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    milvus._initialize_data_files(str(folder))  # decompresses bin/milvus and its libraries
    package = Path(milvus.__file__).parent / "data"
    ports = _free_ports(11)
    names = iter(ports[1:])
    storage = folder / "data"
    fixed = {
        "etcd_log_path": str(folder / "logs" / "etcd.log"),
        "system_log_path": str(folder / "logs"),
        "etcd_data_dir": str(storage / "etcd.data"),
        "local_storage_dir": str(storage),
        "rocksmq_data_dir": str(storage / "rocksmq"),
    }
    chosen: dict[str, str] = {}

    def fill(match: re.Match) -> str:
        name, default = match.group(1), (match.group(3) or "").strip()
        if name in fixed:
            return fixed[name]
        if name.endswith("_port"):
            chosen[name] = str(next(names))
            return chosen[name]
        return default

    template = (package / "config.yaml.template").read_text(encoding="utf-8")
    config = _VARIABLE.sub(fill, template)
    config = re.sub(r"(?m)^(\s*)ip:[^\n#]*(#.*)?$", rf"\1ip: {LOOPBACK}", config)
    config = config.replace("localhost:", f"{LOOPBACK}:")
    (folder / "configs" / "milvus.yaml").write_text(config, encoding="utf-8")
    shutil.copy(package / "glog.conf", folder / "configs" / "glog.conf")

    binary = folder / "bin" / "milvus"
    env = dict(os.environ)
    env.update({
        "DEPLOY_MODE": "STANDALONE",
        "METRICS_PORT": str(ports[0]),
        "MILVUS_RUN_DIR": str(folder / "run"),
        "LD_LIBRARY_PATH": f"{binary.parent}:{env.get('LD_LIBRARY_PATH', '')}",
    })
    out = open(folder / "logs" / "milvus-stdout.log", "w")
    err = open(folder / "logs" / "milvus-stderr.log", "w")
    try:
        process = subprocess.Popen(
            [str(binary), "run", "standalone"], cwd=folder, env=env, stdout=out, stderr=err,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
    finally:
        out.close()
        err.close()
    server = MilvusServer(process, f"http://{LOOPBACK}:{chosen['proxy_port']}", folder, ports[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerUnavailable(
                f"the Milvus server exited with code {process.returncode}: {server.log_tail(5)}"
            )
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{ports[0]}/healthz", timeout=2) as reply:
                if b"OK" in reply.read():
                    return server
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.25)
    server.stop()
    raise ServerUnavailable(f"the Milvus server was not healthy within {timeout:.0f} s: {server.log_tail(5)}")


def _die_with_parent() -> None:
    """In the server's process before exec: SIGTERM when the process that started it dies, even
    by SIGKILL (Linux prctl PR_SET_PDEATHSIG), so no server outlives a killed test or bench."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_ports(count: int) -> list[int]:
    """Ports free on loopback now (held open together, so they are distinct)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m rag.bench.milvus_server FOLDER`: start a server, print its URI, stop at end of stdin."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    try:
        server = start(Path(args[0]), timeout=float(args[1]) if len(args) > 1 else 90.0)
    except ServerUnavailable as exc:
        print(f"unavailable: {exc}", flush=True)
        return 3
    try:
        print(server.uri, flush=True)
        sys.stdin.read()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
