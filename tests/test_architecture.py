"""The architecture of DESIGN.md: imports point down only; layers 0-1 do no I/O, keep no hidden
state (no clocks, no global RNG, no printing); the public API is exactly ``__all__``."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "accessrl"

# module (first component under accessrl/) -> layer
LAYERS = {
    # 0 data and maths
    "errors": 0, "model": 0, "_spec": 0, "_arrays": 0, "policies": 0, "catalog": 0, "returns": 0,
    "workflows": 0, "deny_model": 0, "corridor": 0,
    # 1 algorithms
    "planning": 1, "finite_horizon": 1, "structure": 1, "sensitivity": 1, "simulation": 1, "learning": 1, "learning_fast": 1,
    "kernels": 1, "topological": 1, "rewards": 1, "constrained": 1, "offline": 1, "estimation": 1,
    "logsim": 1, "policy_gradient": 1, "llm": 1, "bandit": 1, "batch": 1,
    # 2 adapters (I/O lives here and above)
    "specfile": 2, "storage": 2, "service": 2, "envs": 2, "report": 2, "report_plots": 2, "plots": 2,
    "lesson": 2, "loggen": 2, "tour": 2,
    # 3 entry points
    "cli": 3, "__main__": 3,
}

# Documented exceptions: (importer, imported, why).
ALLOWED_UPWARD = {
    ("model", "envs"): "MDP.from_gymnasium is a lazy convenience import; the reading code lives in envs",
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


def modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts == ("__init__.py",):
            continue
        yield rel.parts[0].removesuffix(".py"), path


def imported(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for a in node.names:
                yield f"{node.module}.{a.name}", node.lineno


def test_every_module_has_a_layer():
    unknown = sorted({m for m, _ in modules() if m not in LAYERS})
    assert not unknown, f"classify these modules in tests/test_architecture.py LAYERS: {unknown}"


@pytest.mark.parametrize("module, path", list(modules()), ids=lambda x: str(x))
def test_imports_point_down(module, path):
    if module not in LAYERS:
        pytest.skip("unclassified (reported by test_every_module_has_a_layer)")
    layer = LAYERS[module]
    tree = ast.parse(path.read_text())
    for name, line in imported(tree):
        parts = name.split(".")
        if parts[0] != "accessrl":
            continue
        if len(parts) == 1:
            assert layer == 3, f"{path}:{line}: imports the package facade 'accessrl' (import the module)"
            continue
        target = parts[1]
        if target not in LAYERS:
            continue
        if (module, target) in ALLOWED_UPWARD:
            continue
        assert LAYERS[target] <= layer, (
            f"{path}:{line}: layer-{layer} module '{module}' imports layer-{LAYERS[target]} '{target}'"
        )


@pytest.mark.parametrize("module, path", [m for m in modules() if LAYERS.get(m[0], 9) <= 1], ids=lambda x: str(x))
def test_core_does_no_io(module, path):
    tree = ast.parse(path.read_text())
    for name, line in imported(tree):
        assert name.split(".")[0] not in FORBIDDEN_MODULES_LOW, f"{path}:{line}: layer 0-1 imports {name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                assert f.id not in FORBIDDEN_CALLS_LOW, f"{path}:{node.lineno}: {f.id}() in layer 0-1"
            if isinstance(f, ast.Attribute):
                base = f.value
                base_name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
                assert (base_name, f.attr) not in FORBIDDEN_ATTRS_LOW, f"{path}:{node.lineno}: {base_name}.{f.attr}()"
                # np.random.<global function>
                if (
                    isinstance(base, ast.Attribute) and base.attr == "random"
                    and isinstance(base.value, ast.Name) and base.value.id in {"np", "numpy"}
                    and f.attr in NUMPY_GLOBAL_RNG
                ):
                    raise AssertionError(f"{path}:{node.lineno}: global NumPy RNG np.random.{f.attr}()")
                if f.attr in {"read_text", "write_text", "read_bytes", "write_bytes", "mkdir", "unlink"}:
                    raise AssertionError(f"{path}:{node.lineno}: file I/O .{f.attr}() in layer 0-1")


def test_public_api_is_all():
    import accessrl

    public = {n for n in dir(accessrl) if not n.startswith("_")}
    # submodules that Python binds as attributes on import are not API
    import types

    public = {n for n in public if not isinstance(getattr(accessrl, n), types.ModuleType)} - {"annotations"}
    public |= {"catalog"}
    assert public == set(accessrl.__all__)
    for name in accessrl.__all__:
        assert getattr(accessrl, name).__doc__, f"accessrl.{name} has no docstring"


def test_results_are_frozen_dataclasses():
    import dataclasses

    from accessrl import planning

    for cls in (planning.SolveResult, planning.PolicyEvaluation, planning.Backup):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen


def test_errors_form_one_tree():
    import inspect

    from accessrl import errors

    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert all(issubclass(c, errors.AccessRLError) for c in classes)
    assert set(errors.__all__) == {c.__name__ for c in classes}
