"""The index survives faults: a build killed at any point, damaged files, a newer format, and two
builds at once. Logic with the keyword embedder; one test kills the real `rag index`."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.errors import IndexCorruptError, IndexWriteError
from rag.index import ensure_index, open_index
from rag.store import manifest
from rag.store.build import build_index
from tests.conftest import ROOT
from tests.killpoints import POINTS, VOCABULARY, KeywordEmbedder

RUTTE = "What did NATO's Secretary General say about North Korean troops in Ukraine?"


def environment(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {**env, **extra}


def killpoint(point, settings, *extra):
    return subprocess.run(
        [sys.executable, "-m", "tests.killpoints", point, str(settings.docs_dir),
         str(settings.index_dir), *map(str, extra)],
        cwd=ROOT, env=environment(RAG_MODEL="keyword-test"), capture_output=True, text=True,
        timeout=300,
    )


def snapshot(index, question="banana river"):
    answer = index.ask(question, k=3)
    return [(p.source, p.start, p.end, p.text, p.highlights) for p in answer.passages]


def leftovers(index_dir: Path):
    """What a build leaves besides the pointer, the lock and the caches kept between builds."""
    from rag.embed.cache import FOLDER as EMBEDDINGS
    from rag.store.build import ENCODERS

    kept = (manifest.CURRENT, ".lock", EMBEDDINGS, ENCODERS)
    return sorted(p.name for p in index_dir.iterdir() if p.name not in kept)


@pytest.mark.parametrize("point", list(POINTS))
def test_a_build_killed_at_any_point_leaves_a_loadable_correct_index(point, tiny_settings):
    embedder = KeywordEmbedder(VOCABULARY)
    first = build_index(tiny_settings, embedder=embedder)
    expected = snapshot(open_index(settings=tiny_settings, embedder=embedder))

    killed = killpoint(point, tiny_settings)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    current = manifest.current_build(tiny_settings.index_dir)
    switched = point == "switched"
    assert (current != first.build) == switched  # only a completed build is ever current
    assert snapshot(open_index(settings=tiny_settings, embedder=embedder)) == expected
    assert ensure_index(tiny_settings, embedder=embedder).build == current  # usable as it is

    rebuilt = build_index(tiny_settings, embedder=embedder)  # the next build tidies up
    assert leftovers(tiny_settings.index_dir) == [rebuilt.build.name]
    assert snapshot(open_index(settings=tiny_settings, embedder=embedder)) == expected


DAMAGE = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "emptied": lambda path: path.write_bytes(b""),
    "scrambled": lambda path: path.write_bytes(bytes((b * 7 + 3) % 256 for b in path.read_bytes())),
    "deleted": lambda path: path.unlink(),
}
FILES = ["dense.faiss", "chunks.sqlite", "manifest.json", "sentences.npy", "lexical/vocab.index.json"]


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("name", FILES)
def test_a_damaged_file_is_a_clear_error_and_ensure_index_rebuilds(name, damage, tiny_settings):
    embedder = KeywordEmbedder(VOCABULARY)
    report = build_index(tiny_settings, embedder=embedder)
    expected = snapshot(open_index(settings=tiny_settings, embedder=embedder))
    DAMAGE[damage](report.build / name)

    with pytest.raises(IndexCorruptError, match="rebuild with `rag index`"):
        open_index(settings=tiny_settings, embedder=embedder)
    said = []
    index = ensure_index(tiny_settings, embedder=embedder, say=said.append)
    assert index.build != report.build and snapshot(index) == expected
    assert any("rebuild" in line for line in said)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "names a build ('')"),
        (b"\xff\xfe\x00garbage", "cannot be read"),
        (b"build-gone\n", "names a build ('build-gone')"),
        (b"../../etc\n", "names a build ('../../etc')"),
    ],
)
def test_a_damaged_current_pointer_is_a_clear_error_and_ensure_index_rebuilds(content, message,
                                                                             tiny_settings):
    embedder = KeywordEmbedder(VOCABULARY)
    build_index(tiny_settings, embedder=embedder)
    (tiny_settings.index_dir / manifest.CURRENT).write_bytes(content)
    with pytest.raises(IndexCorruptError, match=r"rebuild with `rag index`") as error:
        open_index(settings=tiny_settings, embedder=embedder)
    assert message in str(error.value)
    assert ensure_index(tiny_settings, embedder=embedder).ask("banana").passages


def test_a_manifest_from_a_newer_version_says_so_and_how_to_rebuild(tiny_settings):
    embedder = KeywordEmbedder(VOCABULARY)
    report = build_index(tiny_settings, embedder=embedder)
    path = report.build / manifest.MANIFEST
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format": manifest.FORMAT + 1, "package_version": "9.0.0"}))
    with pytest.raises(IndexCorruptError, match=r"newer rag \(9\.0\.0\).*rebuild with `rag index`"):
        open_index(settings=tiny_settings, embedder=embedder)
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "banana", "--index-dir", str(tiny_settings.index_dir)],
        cwd=ROOT, env=environment(RAG_MODEL="keyword-test"), capture_output=True, text=True,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "newer rag" in result.stderr and "rag index" in result.stderr
    path.write_text(json.dumps({"format": manifest.FORMAT}))  # parses, but lacks the fields
    with pytest.raises(IndexCorruptError, match="lacks model, settings"):
        open_index(settings=tiny_settings, embedder=embedder)
    assert ensure_index(tiny_settings, embedder=embedder).ask("banana").passages


def test_damage_found_after_opening_is_a_clear_error(tiny_settings):
    embedder = KeywordEmbedder(VOCABULARY)
    build_index(tiny_settings, embedder=embedder)
    index = open_index(settings=tiny_settings, embedder=embedder)
    index.chunks._db.close()  # as if the file went bad under a running server
    index.chunks._db = sqlite3.connect(":memory:", check_same_thread=False)
    with pytest.raises(IndexCorruptError, match="rebuild with `rag index`"):
        index.ask("banana")


def test_two_builds_at_once_the_second_is_refused_and_nothing_is_corrupted(tiny_settings, tmp_path):
    embedder = KeywordEmbedder(VOCABULARY)
    build_index(tiny_settings, embedder=embedder)
    expected = snapshot(open_index(settings=tiny_settings, embedder=embedder))
    gate = tmp_path / "gate"
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.killpoints", "hold", str(tiny_settings.docs_dir),
         str(tiny_settings.index_dir), str(gate)],
        cwd=ROOT, env=environment(RAG_MODEL="keyword-test"), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not Path(f"{gate}.ready").exists():  # the first build now holds the lock
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.1)
        second = subprocess.run(
            [sys.executable, "-m", "rag.cli", "index", str(tiny_settings.docs_dir), "--index-dir",
             str(tiny_settings.index_dir), "--force"],
            cwd=ROOT, env=environment(RAG_MODEL="keyword-test"), capture_output=True, text=True,
            timeout=300,
        )
        assert second.returncode == 2
        assert second.stderr.startswith("rag: error: another `rag index` is building")
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert snapshot(open_index(settings=tiny_settings, embedder=embedder)) == expected
    finally:
        gate.write_text("go\n")
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert snapshot(open_index(settings=tiny_settings, embedder=embedder)) == expected
    assert len([p for p in tiny_settings.index_dir.iterdir() if p.name.startswith("build-")]) == 1


def test_killing_the_real_rag_index_never_loses_the_index(seed_index, tmp_path):
    """SIGKILL the real `rag index --force` (MiniLM) after several delays: wherever it stops
    (model load, chunking, embedding, writing), the previous index still loads and answers."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index.build.parent, index_dir, ignore=shutil.ignore_patterns(".lock"))
    docs = seed_index.manifest.docs_dir
    expected = snapshot(seed_index, RUTTE)
    for delay in (1, 4, 7, 10, 13):
        process = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "index", str(docs), "--index-dir", str(index_dir),
             "--force", "--quiet"],
            cwd=ROOT, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        index = open_index(index_dir, embedder=seed_index.embedder)
        assert snapshot(index, RUTTE) == expected, f"after a kill at {delay} s"
        index.close()


def test_a_full_disk_is_a_clear_error_and_the_previous_index_stays(tiny_settings, monkeypatch):
    import errno

    embedder = KeywordEmbedder(VOCABULARY)
    build_index(tiny_settings, embedder=embedder)
    expected = snapshot(open_index(settings=tiny_settings, embedder=embedder))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("rag.store.chunkstore.write", full)
    with pytest.raises(IndexWriteError, match="No space left on device.*previous index is unchanged"):
        build_index(tiny_settings, embedder=embedder)
    monkeypatch.undo()
    assert leftovers(tiny_settings.index_dir) == [manifest.current_build(tiny_settings.index_dir).name]
    assert snapshot(open_index(settings=tiny_settings, embedder=embedder)) == expected

    blocked = tiny_settings.with_overrides(index_dir=tiny_settings.docs_dir / "fruit.txt" / "index")
    with pytest.raises(IndexWriteError, match="cannot write the index"):
        build_index(blocked, embedder=embedder)
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "index", str(tiny_settings.docs_dir), "--index-dir",
         str(blocked.index_dir)],
        cwd=ROOT, env=environment(RAG_MODEL="keyword-test"), capture_output=True, text=True,
    )
    assert result.returncode == 2 and result.stderr.startswith("rag: error: cannot write the index")
    assert result.stderr.count("\n") == 1


def test_opening_while_a_build_replaces_the_index_opens_the_new_one(tiny_settings, monkeypatch):
    embedder = KeywordEmbedder(VOCABULARY)
    first = build_index(tiny_settings, embedder=embedder)
    real_read = manifest.read
    calls = []

    def read_then_rebuild(build):
        data = real_read(build)
        if not calls:  # the first open reads CURRENT, then a build replaces and removes it
            calls.append(build)
            monkeypatch.setattr("rag.store.manifest.read", real_read)
            build_index(tiny_settings, embedder=embedder)
        return data

    monkeypatch.setattr("rag.store.manifest.read", read_then_rebuild)
    index = open_index(settings=tiny_settings, embedder=embedder)
    assert calls == [first.build] and not first.build.exists() and index.build != first.build
    assert index.ask("banana").passages
