"""The package's imports: every module imports in a fresh interpreter, the import graph has no cycle,
and no function imports an mmkeras module unless the line says why (`# deferred: <reason>`).

The graph is read from the source with `ast` (nothing is imported to build it). A module-level
`import mmkeras.a.b` or `from mmkeras.a import b` is an edge to the module `mmkeras.a.b` when it is
one, else to `mmkeras.a`; relative imports count the same. Importing `mmkeras.a.b` also runs
`mmkeras/a/__init__.py`, so the edge reaches that package too, unless the importer lives inside it
(then the package is already being imported). Imports inside functions are not edges: they are
the deferred ones, checked by the last test.
"""

import ast
import collections
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "mmkeras"
DEFERRED = "# deferred:"


def package_modules():
    """{dotted module name: file path} of every module of the package (a package is its __init__.py)."""
    modules = {}
    for folder, dirs, files in os.walk(os.path.join(REPO, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            if name.endswith(".py"):
                parts = os.path.relpath(os.path.join(folder, name), REPO)[:-3].split(os.sep)
                modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = os.path.join(folder, name)
    return modules


class _Imports(ast.NodeVisitor):
    """Collects (node, targets, in_function) for every import of a package module in one file."""

    def __init__(self, module, is_package, modules):
        self.module, self.is_package, self.modules = module, is_package, modules
        self.found, self._depth = [], 0

    def _targets(self, node):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            return [n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")]
        base = node.module or ""
        if node.level:
            parts = self.module.split(".")[:None if self.is_package else -1]
            parts = parts[:len(parts) - (node.level - 1)]
            base = ".".join(parts + ([base] if base else []))
        if not (base == PACKAGE or base.startswith(PACKAGE + ".")):
            return []
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in self.modules else base for a in node.names]

    def visit_Import(self, node):
        targets = self._targets(node)
        if targets:
            self.found.append((node, targets, self._depth > 0))

    visit_ImportFrom = visit_Import

    def _function(self, node):
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function


def scan(modules=None):
    """(graph, deferred): graph = {module: set of modules it imports at module level}; deferred =
    [(path, line number, source line, targets)] of imports of package modules inside functions."""
    modules = modules or package_modules()
    graph, deferred = {}, []
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            source = f.read()
        visitor = _Imports(module, path.endswith("__init__.py"), modules)
        visitor.visit(ast.parse(source, path))
        lines = source.splitlines()
        edges = set()
        for node, targets, in_function in visitor.found:
            if in_function:
                text = "\n".join(lines[node.lineno - 1:node.end_lineno])
                deferred.append((path, node.lineno, text.strip(), targets))
                continue
            for target in targets:
                parts = target.split(".")
                edges.add(target)
                for k in range(1, len(parts)):  # the packages Python runs on the way
                    package = ".".join(parts[:k])
                    if not (module == package or module.startswith(package + ".")):
                        edges.add(package)
        graph[module] = {t for t in edges if t in modules and t != module}
    return graph, deferred


def find_cycles(graph):
    """One shortest cycle (a list of modules, first == last) per strongly connected component."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(v):  # Tarjan's algorithm, iterative so deep graphs do not hit the recursion limit
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.add(w)
                    if w == node:
                        break
                if len(component) > 1:
                    components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_shortest_cycle(graph, component) for component in components]


def _shortest_cycle(graph, component):
    start = min(component)
    parent, queue = {start: None}, collections.deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & component):
            if child == start:
                path = [node]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return [start] + path[::-1][1:] + [start]
            if child not in parent:
                parent[child] = node
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # unreachable for a strongly connected component


def test_the_scanner_finds_edges_cycles_and_deferred_imports(tmp_path):
    modules = {}
    for name, source in {
        "mmkeras": "",
        "mmkeras.a": "from mmkeras.a import b\n",                      # a package importing its module
        "mmkeras.a.b": "from .c import x\n",                           # relative, to a module
        "mmkeras.a.c": "import mmkeras.d\n",
        "mmkeras.d": "from mmkeras.a import b\n\ndef f():\n    from mmkeras import a  # deferred: test\n"
                     "    import mmkeras.a.c\n",
    }.items():
        path = tmp_path / (name.replace(".", "_") + ("__init__.py" if name in ("mmkeras", "mmkeras.a") else ".py"))
        path.write_text(source)
        modules[name] = str(path)
    graph, deferred = scan(modules)
    assert graph["mmkeras.a.b"] == {"mmkeras.a.c"} and graph["mmkeras.d"] == {"mmkeras.a", "mmkeras.a.b"}
    assert find_cycles(graph) == [["mmkeras.a", "mmkeras.a.b", "mmkeras.a.c", "mmkeras.d", "mmkeras.a"]]
    assert [(line, DEFERRED in text) for _, line, text, _ in deferred] == [(4, True), (5, False)]


def test_every_module_imports_in_a_fresh_interpreter():
    """Each module imports cleanly; `import mmkeras` changes no environment variable but its one documented
    default (TF_CPP_MIN_LOG_LEVEL=2, set only when the user has not set it)."""
    names = sorted(n for n in package_modules() if not n.endswith(".__main__"))  # __main__ runs the CLI
    script = (
        "import importlib, json, os, sys, traceback\n"
        "before = dict(os.environ)\n"
        "import mmkeras\n"
        "changed = sorted(k for k in set(os.environ) | set(before) if os.environ.get(k) != before.get(k))\n"
        "failed = {}\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except BaseException:\n"
        "        failed[name] = traceback.format_exc(limit=-3)\n"
        "print(json.dumps({'changed': changed, 'failed': failed}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["failed"], "\n".join(f"{n}:\n{tb}" for n, tb in report["failed"].items())
    assert report["changed"] == ["TF_CPP_MIN_LOG_LEVEL"], f"import mmkeras changed {report['changed']}"
    kept = subprocess.run([sys.executable, "-c", "import os, mmkeras; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"],
                          cwd=REPO, env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True)
    assert kept.stdout.strip().splitlines()[-1] == "3", kept.stderr[-2000:]  # a user's value wins


def test_the_import_graph_has_no_cycle():
    graph, _ = scan()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (a package stands for its __init__.py):\n" + "\n".join(
        "  " + " -> ".join(cycle) for cycle in cycles)


def test_functions_import_mmkeras_modules_only_when_deferred_on_purpose():
    _, deferred = scan()
    undeclared = [f"{os.path.relpath(path, REPO)}:{line}: {text}" for path, line, text, _ in deferred
                  if DEFERRED not in text]
    assert not undeclared, (f"imports of mmkeras modules inside functions; move them to the top of the module "
                            f"or mark the line '{DEFERRED} <reason>':\n  " + "\n  ".join(undeclared))


@pytest.mark.parametrize("low,high", [
    ("mmkeras.errors", "mmkeras.specs"), ("mmkeras.registry", "mmkeras.specs"),
    ("mmkeras.specs.schema", "mmkeras.specs.loader"), ("mmkeras.layers", "mmkeras.data"),
    ("mmkeras.encoders", "mmkeras.data"), ("mmkeras.fusion", "mmkeras.data"),
])
def test_lower_layers_do_not_reach_higher_ones(low, high):
    """What the spec loader imports (registries, encoders, fusions, layers) never needs the data layer."""
    graph, _ = scan()
    reached, todo = set(), [low]
    while todo:
        for child in graph[todo.pop()]:
            if child not in reached:
                reached.add(child)
                todo.append(child)
    assert high not in reached and not any(m.startswith(high + ".") for m in reached)


def test_no_private_name_is_imported_from_another_module():
    """`from mmkeras.x import _name` couples modules through what x keeps to itself: make it public or move it."""
    offenders, modules = [], package_modules()
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        visitor = _Imports(module, path.endswith("__init__.py"), modules)
        visitor.visit(tree)
        for node, _, _ in visitor.found:
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{os.path.relpath(path, REPO)}:{node.lineno}: {name}" for name in names
                          if name.startswith("_") and not name.startswith("__")]
    assert not offenders, "private names imported across modules:\n  " + "\n  ".join(offenders)
