"""The package's import graph has a floor and no cycle (#46): every import counts, the
function-local ones and ``importlib.import_module("rnnmem...")`` included, and the modules a
registration or a run directory rests on import nothing of rnnmem above them."""

import ast
from pathlib import Path

import rnnmem

ROOT = Path(rnnmem.__file__).parent
# the floor: what every model, task, init, experiment and run rests on
FLOOR = {"rnnmem._version", "rnnmem.errors", "rnnmem.specs", "rnnmem.registry", "rnnmem.io",
         "rnnmem.rundir", "rnnmem.checkpoint", "rnnmem.device"}
MAX_LINES = 450


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known) -> set[str]:
    """The rnnmem modules ``name`` imports anywhere in its file (a name imported from a package
    is that package's submodule if there is one, else the package itself)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                           for a in node.names)
        elif isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant):
            targets.add(node.args[0].value)
    resolved = set()
    for target in targets:
        while target not in known and "." in target:
            target = target.rpartition(".")[0]
        if target in known and target != name:
            resolved.add(target)
    return resolved


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    edges = graph()
    assert len(edges) > 50 and "rnnmem.nn.lru" in edges["rnnmem.nn"]  # the walk sees them
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_floor_imports_nothing_above_it():
    edges = graph()
    for name in sorted(FLOOR):
        above = edges[name] - FLOOR
        assert not above, f"{name} imports {sorted(above)}, above the floor"


def test_the_check_sees_an_upward_import(tmp_path):
    """The two checks fail where they should: a cycle, and the registry importing config."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    source = tmp_path / "registry.py"
    source.write_text("def f():\n    from .config import run_level_fields\n")
    known = {"rnnmem.registry", "rnnmem.config"}
    assert imported("rnnmem.registry", source, known) == {"rnnmem.config"}
    source.write_text("import importlib\nimportlib.import_module('rnnmem.config')\n")
    assert imported("rnnmem.registry", source, known) == {"rnnmem.config"}


def test_no_module_is_longer_than_one_concept():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


# errors that are not a user's bad input: a run that failed (exit 1), a script without a
# __main__ guard (Python only), the CLI's own usage error and its signal
NOT_INPUT_ERRORS = {"RunsFailed", "SweepError", "UsageError", "Terminated"}


def test_every_rnnmem_error_has_the_one_base():
    """The CLI catches RnnmemError once (exit 2, one line): every error class rnnmem defines
    derives from it, but those named above."""
    import importlib
    import inspect

    from rnnmem.errors import RnnmemError

    defined = []
    for name in sorted(set(modules()) - {"rnnmem.__main__"}):  # that one runs the CLI
        module = importlib.import_module(name)
        defined += [c for _, c in inspect.getmembers(module, inspect.isclass)
                    if issubclass(c, BaseException) and c.__module__ == name]
    assert len(defined) >= 15
    stray = sorted(c.__qualname__ for c in defined
                   if not issubclass(c, RnnmemError) and c.__name__ not in NOT_INPUT_ERRORS)
    assert not stray, f"errors outside RnnmemError: {stray}"
