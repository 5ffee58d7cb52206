"""The architecture of DESIGN.md, checked on the source tree.

* Layers by folder: every top-level module or package of ``src/accessrl`` has a layer, and
  imports point down only (0 data and maths, 1 algorithms, 2 adapters, 3 entry points).
* No import cycles anywhere: the graph of every ``accessrl`` import, function-level ones
  included, with the package ``__init__`` that Python runs before a submodule, is acyclic.
* Layers 0-1 do no I/O and keep no hidden state (no files, clocks, printing, global RNG).
* The public API is exactly ``__all__``, results are frozen dataclasses, errors form one tree.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "accessrl"

LAYERS = {
    # 0 data and maths
    "errors": 0, "_types": 0, "_optional": 0, "model": 0, "catalog": 0,
    # 1 algorithms
    "planning": 1, "simulation": 1, "learning": 1, "rewards": 1, "offline": 1, "llm": 1,
    # 2 adapters (I/O lives here and above)
    "storage": 2, "service": 2, "report": 2, "lesson": 2, "envs": 2, "specfile": 2,
    "studio": 2, "distributed": 2, "machine": 2, "exercises": 2, "web": 2,
    # 3 entry points
    "cli": 3, "pilot": 3, "__main__": 3,
}

FORBIDDEN_MODULES_LOW = {"os", "sys", "io", "pathlib", "socket", "shutil", "subprocess", "sqlalchemy",
                         "requests", "httpx", "urllib", "random", "logging", "tempfile", "pickle"}
FORBIDDEN_CALLS_LOW = {"open", "print", "input"}
FORBIDDEN_ATTRS_LOW = {
    ("time", "time"), ("time", "perf_counter"), ("time", "monotonic"), ("time", "sleep"),
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("random", "seed"), ("torch", "manual_seed"), ("torch", "seed"),
}
NUMPY_GLOBAL_RNG = {"seed", "rand", "randn", "randint", "random", "choice", "shuffle", "permutation",
                    "normal", "uniform", "binomial", "poisson"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def top(name: str) -> str:
    """The layer unit of a module: its first component under accessrl."""
    return name.split(".")[1].removesuffix(".py")


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every accessrl module a file imports (at any depth in the file), with the line.

    ``from accessrl.pkg import name`` yields ``accessrl.pkg.name`` when that is a module,
    else ``accessrl.pkg``; relative imports are resolved against the file's package."""
    tree = ast.parse(path.read_text())
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "accessrl":
                    yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            if base.split(".")[0] != "accessrl":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                yield (sub if sub in MODULES else base), node.lineno


def test_every_module_has_a_layer_and_every_layer_a_module():
    tops = {top(m) for m in MODULES if m != "accessrl"}
    assert not sorted(tops - set(LAYERS)), f"classify these in LAYERS: {sorted(tops - set(LAYERS))}"
    stale = sorted(set(LAYERS) - tops)
    assert not stale, f"LAYERS names modules that do not exist: {stale}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m != "accessrl"))
def test_imports_point_down(name):
    layer = LAYERS[top(name)]
    for target, line in imports(MODULES[name]):
        if target == "accessrl":
            assert layer == 3, f"{MODULES[name]}:{line}: imports the package facade 'accessrl' (import the module)"
            continue
        assert LAYERS[top(target)] <= layer, (
            f"{MODULES[name]}:{line}: layer-{layer} {name} imports layer-{LAYERS[top(target)]} {target}"
        )


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules Python runs when it executes: each module it imports, plus the
    ``__init__`` of every package above that module, except the importer's own packages (which
    are already running when it runs)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for target, _ in imports(path):
            if target != name:
                graph[name].add(target)
            parts = target.split(".")
            for i in range(2, len(parts)):
                step = ".".join(parts[:i])
                if step in MODULES and step != name and step not in own:
                    graph[name].add(step)
    graph.pop("accessrl", None)
    for deps in graph.values():
        deps.discard("accessrl")
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m != "accessrl" and LAYERS[top(m)] <= 1))
def test_core_does_no_io(name):
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                assert a.name.split(".")[0] not in FORBIDDEN_MODULES_LOW, f"{path}:{node.lineno}: imports {a.name}"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            assert node.module.split(".")[0] not in FORBIDDEN_MODULES_LOW, f"{path}:{node.lineno}: imports {node.module}"
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                assert f.id not in FORBIDDEN_CALLS_LOW, f"{path}:{node.lineno}: {f.id}() in layer 0-1"
            if isinstance(f, ast.Attribute):
                base = f.value
                base_name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
                assert (base_name, f.attr) not in FORBIDDEN_ATTRS_LOW, f"{path}:{node.lineno}: {base_name}.{f.attr}()"
                if (
                    isinstance(base, ast.Attribute) and base.attr == "random"
                    and isinstance(base.value, ast.Name) and base.value.id in {"np", "numpy"}
                    and f.attr in NUMPY_GLOBAL_RNG
                ):
                    raise AssertionError(f"{path}:{node.lineno}: global NumPy RNG np.random.{f.attr}()")
                if f.attr in {"read_text", "write_text", "read_bytes", "write_bytes", "mkdir", "unlink"}:
                    raise AssertionError(f"{path}:{node.lineno}: file I/O .{f.attr}() in layer 0-1")


def test_no_private_names_cross_modules():
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("accessrl"):
                private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
                assert not private, f"{path}:{node.lineno}: imports private {private} from {node.module}"


PACKAGES = sorted(m for m, p in MODULES.items() if p.name == "__init__.py" and m != "accessrl"
                  and m not in {"accessrl.cli"})


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_reexport_their_public_names(package):
    """Each package's ``__init__`` names exactly what it exports, and every name resolves."""
    try:
        mod = importlib.import_module(package)
    except ImportError as exc:  # an optional extra (llm needs torch)
        pytest.skip(f"{package} needs an optional extra: {exc}")
    assert hasattr(mod, "__all__"), f"{package} has no __all__"
    for n in mod.__all__:
        assert hasattr(mod, n), f"{package}.__all__ names {n!r}, which it does not define"


def test_public_api_is_all():
    import accessrl

    public = {n for n in dir(accessrl) if not n.startswith("_")}
    public = {n for n in public if not isinstance(getattr(accessrl, n), types.ModuleType)} - {"annotations"}
    public |= {"catalog"}
    assert public == set(accessrl.__all__)
    for name in accessrl.__all__:
        assert getattr(accessrl, name).__doc__, f"accessrl.{name} has no docstring"


def test_results_are_frozen_dataclasses():
    from accessrl import planning

    for cls in (planning.SolveResult, planning.PolicyEvaluation, planning.Backup, planning.MethodChoice):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen


def test_errors_form_one_tree():
    from accessrl import errors

    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert all(issubclass(c, errors.AccessRLError) for c in classes)
    assert set(errors.__all__) == {c.__name__ for c in classes}


BANNER = re.compile(r"^\s*# ?[-=]{3,}")
TRACKER = re.compile(r"\b(issue|ticket|task)s? ?#?\d+\b", re.I)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_banner_comments_or_tracker_references(name):
    """Comments explain why; the tree, not ASCII rules, shows the structure; code outlives trackers."""
    for i, line in enumerate(MODULES[name].read_text().splitlines(), 1):
        assert not BANNER.match(line), f"{MODULES[name]}:{i}: banner comment"
        assert not TRACKER.search(line), f"{MODULES[name]}:{i}: tracker reference {line.strip()!r}"


def test_results_of_every_package_are_frozen():
    """Every dataclass a layer 0-1 package exports is frozen (STYLE: results are frozen dataclasses)."""
    loose = []
    for package in ("model", "catalog", "planning", "learning", "rewards", "offline", "simulation"):
        mod = importlib.import_module(f"accessrl.{package}")
        for n in getattr(mod, "__all__", [n for n in dir(mod) if not n.startswith("_")]):
            obj = getattr(mod, n)
            if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and not obj.__dataclass_params__.frozen:
                loose.append(f"accessrl.{package}.{n}")
    assert not loose, f"not frozen: {loose}"


def test_tests_mirror_the_tree():
    """One test folder per package (and per top-level module that has tests), named like it."""
    tests = Path(__file__).resolve().parent
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    units = set(LAYERS) - {"errors", "_types", "_optional", "__main__", "specfile"}
    assert folders <= set(LAYERS), f"test folders with no package: {sorted(folders - set(LAYERS))}"
    assert not sorted(units - folders), f"packages without a test folder: {sorted(units - folders)}"
    loose = sorted(p.name for p in tests.glob("test_*.py"))
    assert loose == ["test_architecture.py", "test_dependencies.py", "test_docs.py", "test_readme.py"], loose


SPHINX_REF = re.compile(r":(?:func|class|mod|data|meth|attr):`~?(accessrl\.[A-Za-z0-9_.]+)`")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstring_references_resolve(name):
    """Every ``:func:`accessrl.x.y``` a docstring names still exists after a move."""
    for path in SPHINX_REF.findall(MODULES[name].read_text()):
        parts = path.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ModuleNotFoundError:
                continue
            except ImportError as exc:  # a module built on a missing optional extra
                pytest.skip(f"{path}: {exc}")
            for attr in parts[i:]:
                assert hasattr(obj, attr), f"{MODULES[name]}: docstring names {path}, which does not exist"
                obj = getattr(obj, attr)
            break
