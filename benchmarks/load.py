"""Load test: the real server (app.py over the seeds, the real model) under concurrent clients.

    python benchmarks/load.py [--seconds 60] [--clients 32] [--gradio-clients 4]
                              [--gradio-requests 10] [--out benchmarks/results/load.json]

Starts `app.py` on a free 127.0.0.1 port (index built into a temporary folder), warms it with one
question, then:
1. `--clients` threads, each with its own httpx client, POST a mix of questions (the evaluation
   questions, half of them made unique so the model must embed them, varying k and mode, and one
   in twenty a bad request that must get a 400) to /api/ask for `--seconds`
   (at most `--max-requests` in all);
2. a smaller run through the page's Gradio queue: `--gradio-clients` gradio_client Clients, each
   `--gradio-requests` questions to the /ask endpoint.
It reports throughput, p50/p95/p99 latency, errors (any unexpected status or exception), the
server's CPU use in cores (utime + stime over wall time: 2.0 is both cores busy) and its resident
memory (VmRSS from /proc) before and after each run. Only loopback is used; the server is stopped
at the end. No timing is asserted anywhere: tests/test_load_smoke.py runs a short version.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.bench.processes import free_port, stop  # noqa: E402

BAD = (  # each must be refused with this status, and counts as an error otherwise
    ({"question": "   "}, 400),
    ({"question": "apple", "k": 10_000}, 400),
    ({"question": "x" * 5000}, 400),
)
"""One request in twenty is one of these: refusals are part of a real mix."""
UNIQUE = 0.5
"""The share of questions made unique, so the model embeds them (the rest may hit the cache)."""


@dataclass(frozen=True)
class RunResult:
    clients: int
    seconds: float
    requests: int
    errors: int
    refused_as_expected: int
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_cores: float
    rss_before_mb: float
    rss_after_mb: float
    first_errors: list


def questions() -> list[str]:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_load(url: str, pid: int | None, clients: int, seconds: float, max_requests: int,
              mix: list[str], seed: int = 0, timeout: float = 120.0) -> RunResult:
    """`clients` threads posting to /api/ask until `seconds` pass or `max_requests` are sent."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    refused = [0]
    sent = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        with httpx.Client(base_url=url, timeout=timeout) as http:
            while time.monotonic() < stop:
                with lock:
                    if sent[0] >= max_requests:
                        return
                    sent[0] += 1
                if rng.random() < 0.05:
                    body, expected = rng.choice(BAD)
                else:
                    question = rng.choice(mix)
                    if rng.random() < UNIQUE:  # not in the server's question-vector cache
                        question = f"{question} (asked by client {number}, {rng.randrange(10**9)})"
                    body = {"question": question, "k": rng.choice((3, 5, 10)),
                            "mode": rng.choice(("hybrid", "hybrid", "dense", "lexical"))}
                    expected = 200
                began = time.perf_counter()
                try:
                    response = http.post("/api/ask", json=body)
                    status = response.status_code
                    ok = status == expected and (status != 200 or response.json()["passages"])
                    problem = f"{status}: {response.text[:200]}"
                except Exception as exc:  # noqa: BLE001 (every failure is counted, none stops the run)
                    ok, problem = False, f"{type(exc).__name__}: {exc}"
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    if not ok:
                        errors.append(problem)
                    elif expected != 200:
                        refused[0] += 1
                    else:
                        latencies.append(elapsed)

    return _measure(pid, clients, lambda: _threads(client, clients), latencies, errors, refused)


def gradio_load(url: str, pid: int | None, clients: int, requests: int, mix: list[str],
                seed: int = 0) -> RunResult:
    """`clients` gradio_client Clients, each asking `requests` questions through the queue."""
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        try:
            gradio = Client(url + "/", verbose=False, download_files=False)
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(f"connect: {type(exc).__name__}: {exc}")
            return
        for _ in range(requests):
            began = time.perf_counter()
            try:
                answer = gradio.predict(rng.choice(mix), rng.choice((3, 5)), None, "hybrid", None,
                                        api_name="/ask")
                ok, problem = bool(answer.get("passages")), f"no passages: {answer!r:.200}"
            except Exception as exc:  # noqa: BLE001
                ok, problem = False, f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                (latencies.append(elapsed) if ok else errors.append(problem))

    return _measure(pid, clients, lambda: _threads(client, clients), latencies, errors, [0])


def _threads(target, count: int) -> None:
    threads = [threading.Thread(target=target, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _measure(pid, clients, run, latencies, errors, refused) -> RunResult:
    rss_before = rss_mb(pid) if pid else 0.0
    cpu_before = cpu_seconds(pid) if pid else 0.0
    began = time.monotonic()
    run()
    wall = time.monotonic() - began
    cpu = (cpu_seconds(pid) - cpu_before) / wall if pid else 0.0
    done = len(latencies) + refused[0]
    return RunResult(
        clients=clients, seconds=round(wall, 2), requests=done + len(errors), errors=len(errors),
        refused_as_expected=refused[0], throughput_rps=round(done / wall, 2),
        p50_ms=round(percentile(latencies, 50), 1), p95_ms=round(percentile(latencies, 95), 1),
        p99_ms=round(percentile(latencies, 99), 1), max_ms=round(max(latencies, default=0.0), 1),
        server_cpu_cores=round(cpu, 2), rss_before_mb=round(rss_before, 1),
        rss_after_mb=round(rss_mb(pid), 1) if pid else 0.0, first_errors=errors[:5],
    )


def start_server(index_dir: Path, port: int) -> subprocess.Popen:
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    process = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port),
         "--docs-dir", str(ROOT / "seeds"), "--index-dir", str(index_dir)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 900  # the first build embeds the seeds on a shared machine
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited: {process.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("app.py did not start within 900 s")
            time.sleep(0.5)
    except BaseException:  # not started, or Ctrl-C while waiting: leave nothing running
        stop(process)
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--gradio-clients", type=int, default=4)
    parser.add_argument("--gradio-requests", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.json")
    args = parser.parse_args()

    import httpx

    mix = questions()
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = start_server(Path(tmp) / "index", port)
        try:
            httpx.post(url + "/api/ask", json={"question": mix[0]}, timeout=120).raise_for_status()
            rss_start = rss_mb(process.pid)
            print(f"server pid {process.pid} on {url}, RSS {rss_start:.0f} MB after one question",
                  flush=True)
            http = http_load(url, process.pid, args.clients, args.seconds, args.max_requests, mix)
            print("http:", json.dumps(asdict(http)), flush=True)
            gradio = gradio_load(url, process.pid, args.gradio_clients, args.gradio_requests, mix)
            print("gradio:", json.dumps(asdict(gradio)), flush=True)
            alive = httpx.get(url + "/api/health", timeout=30).status_code == 200
        finally:
            stop(process, timeout=30)
    result = {
        "command": "python benchmarks/load.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min_at_end": round(os.getloadavg()[0], 2)},
        "questions": len(mix),
        "unique_question_share": UNIQUE,
        "rss_after_first_question_mb": round(rss_start, 1),
        "rss_growth_percent": round(100 * (http.rss_after_mb - http.rss_before_mb) / http.rss_before_mb, 1),
        "server_up_after": alive,
        "http": asdict(http),
        "gradio": asdict(gradio),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
