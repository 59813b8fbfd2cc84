"""The CLI as a user runs it: a real process, exit codes, stdout/stderr, stdin."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SEEDS

RUTTE_QUESTION = "What did NATO's Secretary General say about North Korean troops in Ukraine?"


def rag(*args, stdin=None, cwd=ROOT):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *map(str, args)],
        input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=600,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Seeds indexed once by the CLI itself, into a folder of this module's own."""
    root = tmp_path_factory.mktemp("cli")
    docs = root / "docs"
    shutil.copytree(SEEDS, docs)
    result = rag("index", docs, "--index-dir", root / "index", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "indexed 5 documents" in result.stdout
    return root


def test_help_does_not_import_torch():
    code = "import sys, rag.cli; rag.cli.build_parser().format_help(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_ask_json_gives_the_rutte_sentence_verbatim(built):
    result = rag("ask", "--json", "--index-dir", built / "index", stdin=RUTTE_QUESTION + "\n")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.splitlines()[0])
    assert data["question"] == RUTTE_QUESTION and data["answered"] is True
    top = data["passages"][0]
    assert top["source"] == "004_5d5c85c0ad26f8dd.txt"
    text = (built / "docs" / top["source"]).read_bytes().decode("utf-8")
    assert text[top["start"] : top["end"]] == top["text"]
    (a, b), *_ = top["highlights"]
    assert text[a:b].startswith("NATO's new Secretary General Mark Rutte said")


def test_stdin_gives_one_json_line_per_question(built):
    questions = "Who is Mark Rutte?\n\nWhat is a good banana bread recipe?\n"
    result = rag("ask", "--json", "-k", "2", "--index-dir", built / "index", stdin=questions)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["question"] for d in lines] == ["Who is Mark Rutte?", "What is a good banana bread recipe?"]
    assert [len(d["passages"]) for d in lines] == [2, 2]
    assert lines[1]["answered"] is False


def test_plain_output_cites_file_and_lines(built):
    result = rag("ask", RUTTE_QUESTION, "--index-dir", built / "index")
    assert result.returncode == 0
    assert "[1] 004_5d5c85c0ad26f8dd.txt, lines" in result.stdout
    assert "»NATO's new Secretary General Mark Rutte" in result.stdout


def test_reindexing_unchanged_documents_does_nothing(built):
    result = rag("index", built / "docs", "--index-dir", built / "index")
    assert result.returncode == 0 and "up to date" in result.stdout


def test_errors_exit_2_with_one_line_on_stderr(built, tmp_path):
    missing = rag("ask", "hello", "--index-dir", tmp_path / "nothing")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "rag index" in missing.stderr
    bad_source = rag("ask", "hello", "--source", "nope.txt", "--index-dir", built / "index")
    assert bad_source.returncode == 2 and "unknown source" in bad_source.stderr
    bad_k = rag("ask", "hello", "-k", "0", "--index-dir", built / "index")
    assert bad_k.returncode == 2 and "k must be" in bad_k.stderr
    assert "Traceback" not in missing.stderr + bad_source.stderr + bad_k.stderr


def test_nothing_to_index_exits_1(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = rag("index", empty, "--index-dir", tmp_path / "index")
    assert result.returncode == 1 and "no usable" in result.stderr
    gone = rag("index", tmp_path / "missing", "--index-dir", tmp_path / "index")
    assert gone.returncode == 1 and "does not exist" in gone.stderr


def test_stale_index_is_refused_until_rebuilt(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    index = tmp_path / "index"
    assert rag("index", docs, "--index-dir", index, "--quiet").returncode == 0
    with open(docs / "003_0998b58f91dd8604.txt", "a", encoding="utf-8") as handle:
        handle.write("\nA new closing line.\n")
    stale = rag("ask", "hello", "--index-dir", index)
    assert stale.returncode == 2 and "stale" in stale.stderr and "003_0998b58f91dd8604.txt changed" in stale.stderr
    assert rag("index", docs, "--index-dir", index, "--quiet").returncode == 0
    assert rag("ask", "hello", "--index-dir", index).returncode == 0


def test_a_reader_that_goes_away_ends_the_output_quietly_as_unix_tools_do(built):
    """`rag ask --json | head -1`: no traceback, exit status 141 (as for SIGPIPE)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    questions = "".join(f"Who is Mark Rutte? ({n})\n" for n in range(20))
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ask", "--json", "--index-dir", str(built / "index")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env,
    )
    process.stdin.write(questions.encode())
    process.stdin.close()
    first = process.stdout.readline()
    process.stdout.close()  # what `head -1` does after its line
    code = process.wait(timeout=600)
    stderr = process.stderr.read().decode()
    assert json.loads(first)["question"] == "Who is Mark Rutte? (0)"
    assert code == 141 and "Traceback" not in stderr and stderr == ""


def test_building_prints_our_messages_and_no_library_log_lines(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    result = rag("index", docs, "--index-dir", tmp_path / "index")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "indexed 5 documents" in output
    assert "Building index from tokens" not in output and "Loading weights" not in output
