"""The house rules that keep `lib` easy to live in: importing it changes nothing in the process, every
package says its job, no module grows past a screenful or two, and nothing imports upwards."""

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

LIB = ROOT / "lib"
SHARED = ["lib.settings", "lib.files", "lib.runtime", "lib.llm", "lib.view"]
PACKAGES = ["lib", *SHARED, "lib.data", "lib.train", "lib.study"]


def modules() -> list[str]:
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in LIB.rglob("*.py") if p.name != "__main__.py")


STATE = """
import json, logging, os, sys, warnings
import torch, torch._dynamo, transformers, trl, peft, datasets, sklearn, pandas, matplotlib  # their own doing
def state():
    loggers = {name: (getattr(l, "level", None), len(getattr(l, "filters", [])))
               for name, l in logging.root.manager.loggerDict.items()}
    umask = os.umask(0); os.umask(umask)
    return {"warnings": repr(warnings.filters), "environ": sorted(os.environ.items()), "umask": umask,
            "loggers": repr(sorted(loggers.items())), "root": (logging.root.level, len(logging.root.filters)),
            "dynamo": repr(sorted(torch._dynamo.config.get_config_copy().items()))}
before = state()
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
after = state()
# loggers that other packages create on import are theirs; lib must not touch the ones that exist
after["loggers"] = repr(sorted((k, v) for k, v in eval(after["loggers"]) if k in dict(eval(before["loggers"]))))
print(json.dumps({k: before[k] == after[k] for k in before}))
"""


@pytest.mark.slow
def test_importing_lib_changes_nothing_in_the_process():
    done = subprocess.run([sys.executable, "-c", STATE, *modules()], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    unchanged = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert all(unchanged.values()), f"importing lib changed: {[k for k, v in unchanged.items() if not v]}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_states_its_job(package):
    init = ROOT / package.replace(".", "/") / "__init__.py"
    tree = ast.parse(init.read_text())
    doc = ast.get_docstring(tree)
    assert doc and len(doc.split()) >= 20, f"{init}: say the package's job in its docstring"
    assert all(isinstance(node, ast.Expr) or isinstance(node, ast.ImportFrom) and node.module == "__future__"
               for node in tree.body), f"{init}: only the docstring (importing the package runs nothing)"


def test_no_module_is_too_long_and_every_module_says_why():
    for path in LIB.rglob("*.py"):
        lines = path.read_text().count("\n")
        assert lines <= 500, f"{path.relative_to(ROOT)} has {lines} lines; split it by job"
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path.relative_to(ROOT)}: no module docstring"


def test_shared_pieces_never_import_the_stages_and_data_never_imports_training_or_the_study():
    """Arrows point one way: data <- train <- study; the shared packages (and lib.colab) import none of them."""
    stages = ("lib.data", "lib.train", "lib.study")
    forbidden = {"lib": stages, **{shared: stages for shared in SHARED}, "lib.data": ("lib.train", "lib.study"),
                 "lib.train": ("lib.study",), "lib.study": ()}
    for path in LIB.rglob("*.py"):
        rel = path.relative_to(ROOT)
        package = "lib" if len(rel.parts) == 2 else f"lib.{rel.parts[1]}"
        if path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = resolve(rel, node)
                for name in [target] + [f"{target}.{a.name}" for a in node.names]:
                    assert not name.startswith(forbidden[package]), f"{rel} imports {name}"


def resolve(rel, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = list(rel.with_suffix("").parts)[: -node.level]
    return ".".join(parts + ([node.module] if node.module else []))


# Cycles that remain, each closed only by an import deferred into a function (none at import time); a new one
# fails the test. `colab.setup`, the notebooks' first call, reaches back to storage for the library log's folder.
DEFERRED_CYCLES = [
    {"lib.colab", "lib.files.storage"},
    {"lib.data.prepare", "lib.data.preview"},
    {"lib.study.answers", "lib.study.arms", "lib.study.cross_likelihood", "lib.study.domination",
     "lib.study.inextricability", "lib.study.measures", "lib.study.replica", "lib.study.steerability",
     "lib.study.study", "lib.study.voice"},
    {"lib.study.checklist", "lib.study.findings", "lib.study.report"},
    {"lib.study.oracle", "lib.study.oracle_sources"},
]


def import_graph(deferred: bool) -> dict[str, set[str]]:
    """Which lib modules each lib module imports: at import time only, or with the imports inside functions."""
    names = set(modules())
    graph = {}
    for path in LIB.rglob("*.py"):
        rel = path.relative_to(ROOT)
        here = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        targets = set()
        for node in ast.walk(tree) if deferred else tree.body:
            if isinstance(node, ast.ImportFrom):
                base = resolve(rel, node)
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in names else base for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[here] = {t for t in targets if t in names and t != here}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while not component or node not in component:
                component.add(stack.pop())
            on_stack.difference_update(component)
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_lib_modules():
    """At import time none at all; counting the imports inside functions, only the known ones, never larger."""
    assert cycles(import_graph(deferred=False)) == []
    for cycle in cycles(import_graph(deferred=True)):
        assert any(cycle <= known for known in DEFERRED_CYCLES), f"an import cycle: {sorted(cycle)}"


def test_the_maps_name_every_package_and_every_shared_module():
    """README's map names every package; CONTRIBUTING's names every package and each shared module, so a newcomer
    finds every file of `lib` on one screen."""
    readme, contributing = (ROOT / "README.md").read_text(), (ROOT / "CONTRIBUTING.md").read_text()
    for package in PACKAGES[1:]:
        assert f"`{package}`" in readme and f"`{package}`" in contributing, f"{package} is missing from a map"
    for path in [*LIB.glob("*.py"), *(p for shared in SHARED for p in (ROOT / shared.replace(".", "/")).glob("*.py"))]:
        if path.name != "__init__.py":
            assert f"`{path.stem}`" in contributing, f"CONTRIBUTING.md's map does not name {path.relative_to(ROOT)}"
