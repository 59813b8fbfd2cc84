"""The package layout holds: imports go down the flow (load -> chunk -> embed -> index -> retrieve
-> answer -> present), the core never imports a shell, evaluation or the benchmarks, there are no
import cycles, and no module grows past the size at which it should be split.

The checks parse the source with `ast` (function-level imports included), so they need no imports
of their own and see every `import` a module can run. Each check is also run on a small hand-made
tree with one violation, so a checker that finds nothing cannot pass unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rag"

LAYERS = (
    ("rag.errors", "rag.config"),
    ("rag.ingest",),
    ("rag.embed",),
    ("rag.store",),
    ("rag.search",),
    ("rag.index", "rag.live"),
)
"""The core, in flow order: a module may import its own layer and the layers above it, never a
later one. The package's own `__init__` (lazy exports by name, no imports) stands outside."""
OUTSIDE_THE_CORE = ("rag.serve", "rag.evaluate", "rag.bench", "rag.cli")
"""Shells, evaluation and benchmarks: they may import the core; the core never imports them."""
MAX_LINES = 450
MAX_LOOSE_MODULES = 8


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, package: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports anywhere in its body: `from a.b import c` counts as
    a.b.c when that is a module, else as a.b; `import a.b.c` as its longest known prefix."""
    name = module_name(path, package)
    found: set[str] = set()

    def longest_known(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [longest_known(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else longest_known(base)
                       for a in node.names]
        else:
            continue
        found.update(t for t in targets if t and t not in (name, package.name))
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module name -> the project modules it imports."""
    files = sorted(package.rglob("*.py"))
    known = {module_name(f, package) for f in files}
    return {module_name(f, package): imports_of(f, package, known) for f in files}


def _layer(module: str) -> int | None:
    for number, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return number
    return None


def direction_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes up the flow or from the core into a shell, as 'a -> b'."""
    bad = []
    for module, targets in sorted(graph.items()):
        here = _layer(module)
        if here is None:
            continue
        for target in sorted(targets):
            there = _layer(target)
            outside = any(target == p or target.startswith(p + ".") for p in OUTSIDE_THE_CORE)
            if outside or (there is not None and there > here):
                bad.append(f"{module} -> {target}")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph`, each as the list of modules around it."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


# -- the project ---------------------------------------------------------------------------------


def test_the_core_imports_down_the_flow_and_never_a_shell_evaluation_or_benchmark():
    graph = import_graph(PACKAGE)
    assert {"rag.search.answer", "rag.store.build"} <= graph["rag.index"]  # the graph is really read
    assert direction_violations(graph) == []


def test_no_import_cycles_anywhere_in_the_package():
    assert cycles(import_graph(PACKAGE)) == []


def test_no_module_is_past_the_size_to_split_it():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in [*PACKAGE.rglob("*.py"), ROOT / "app.py"]}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def test_a_few_loose_modules_beside_sub_packages_that_each_say_what_they_hold():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    packages = sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert len(loose) <= MAX_LOOSE_MODULES, loose
    assert len(packages) >= 4
    for package in packages:
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
        assert docstring and "import" in docstring, f"{package.name}/__init__.py must say what it may import"


# -- the checks themselves, on a hand-made tree --------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "rag"
    for name, body in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    for folder in [package, *[p for p in package.rglob("*") if p.is_dir()]]:
        (folder / "__init__.py").touch()
    return package


@pytest.mark.parametrize("module, body", [
    ("store/build.py", "def f():\n    from rag.serve.api import create_app\n"),   # core -> shell, in a function
    ("search/answer.py", "import rag.bench.runner\n"),                           # core -> benchmark
    ("ingest/chunking.py", "from rag.search import ranking\n"),                   # up the flow
    ("embed/cache.py", "from ..store.manifest import read\n"),                    # up the flow, relative
])
def test_a_forbidden_import_is_found(tmp_path, module, body):
    package = _tree(tmp_path, {
        "store/build.py": "", "search/answer.py": "", "search/ranking.py": "", "ingest/chunking.py": "",
        "embed/cache.py": "", "store/manifest.py": "", "serve/api.py": "", "bench/runner.py": "",
        module: body,
    })
    assert len(direction_violations(import_graph(package))) == 1


def test_downward_and_shell_imports_are_allowed(tmp_path):
    package = _tree(tmp_path, {
        "search/answer.py": "from rag.store.chunkstore import ChunkStore\nfrom rag.config import X\n",
        "store/chunkstore.py": "from rag.ingest import documents\n", "ingest/documents.py": "",
        "config.py": "", "serve/api.py": "from rag.search.answer import Answer\nfrom rag.bench import runner\n",
        "bench/runner.py": "",
    })
    assert direction_violations(import_graph(package)) == []


def test_a_cycle_is_found(tmp_path):
    package = _tree(tmp_path, {
        "bench/runner.py": "from rag.bench.http_latency import REPEATED\n",
        "bench/http_latency.py": "def f():\n    from rag.bench.runner import percentiles\n",
    })
    assert cycles(import_graph(package)) == [["rag.bench.http_latency", "rag.bench.runner",
                                              "rag.bench.http_latency"]]
