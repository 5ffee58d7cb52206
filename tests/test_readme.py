"""The README's two Quickstart commands stay honest: the first runs (on a tiny budget where it
offers one), the second is exactly what CI runs."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the Quickstart has a bash block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_has_exactly_two_commands():
    cmds = quickstart_commands()
    assert len(cmds) == 2
    assert cmds[0].startswith("pip install") and " && accessrl " in cmds[0]
    assert cmds[1].startswith("pip install") and "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = quickstart_commands()[1]
    # CI may spell `pip` as `python -m pip` so it uses the same interpreter; nothing else differs.
    assert test_cmd.replace("pip install", "python -m pip install", 1) in ci.splitlines()


def test_first_command_runs(tmp_path):
    """Run the first command as written: the install, then the main job."""
    install, job = quickstart_commands()[0].split(" && ", 1)
    env = {**os.environ, "MPLBACKEND": "Agg", "ACCESSRL_DATA_DIR": str(tmp_path)}
    pip = shlex.split(install)
    assert pip[:2] == ["pip", "install"]
    r = subprocess.run([sys.executable, "-m", *pip], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    args = shlex.split(job)
    assert args[0] == "accessrl"
    if args[1] == "tour":
        args += ["--quick", "--out", str(tmp_path / "tour")]
    r = subprocess.run([sys.executable, "-m", "accessrl", *args[1:]], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip()


def documented_paths() -> list[str]:
    """Every dotted ``accessrl.…`` name the README writes in code spans or code blocks."""
    text = (ROOT / "README.md").read_text()
    code = " ".join(re.findall(r"`([^`\n]+)`", text)) + " " + " ".join(re.findall(r"```\w*\n(.*?)```", text, re.S))
    return sorted({m.rstrip(".") for m in re.findall(r"\baccessrl(?:\.[A-Za-z_][A-Za-z0-9_]*)+", code)})


def resolve(path: str) -> object:
    import importlib

    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(path)


def test_every_documented_import_path_resolves():
    paths = documented_paths()
    assert "accessrl.catalog.workflows.access_review_workflow" in paths  # the scan finds what it should
    missing = []
    for p in paths:
        try:
            resolve(p)
        except (ImportError, AttributeError):
            missing.append(p)
    assert not missing, f"README names paths that do not exist: {missing}"


def test_python_api_example_runs():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md (Python API)", "exec"), {})


def test_layout_section_names_every_module():
    """The README's tree names every package and module of src/accessrl, and nothing else."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Layout.*?```\n(.*?)```", text, re.S).group(1)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", block))
    src = ROOT / "src" / "accessrl"
    modules = {p.stem for p in src.glob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in src.iterdir() if (p / "__init__.py").exists()}
    inner = {p.stem for pkg in packages - {"cli", "lesson", "llm"} for p in (src / pkg).glob("*.py")
             if p.stem != "__init__"}
    missing = sorted((modules | packages | inner) - words - {"__main__"})
    assert not missing, f"the README's layout does not name: {missing}"
    named = set(re.findall(r"^\s*([a-z_]+)/", block, re.M)) | set(re.findall(r"\b([a-z_]+)\.py\b", block))
    stray = sorted(named - modules - packages - {"src", "accessrl"})
    assert not stray, f"the README's layout names what does not exist: {stray}"


def loop_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The deployment loop", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the deployment loop section has a bash block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_deployment_loop_runs_as_written(tmp_path, monkeypatch):
    """Every command of "The deployment loop", in order, in a fresh directory: `serve` runs until it
    answers (then stops), `pilot` on a small budget; every other command exactly as written."""
    import socket
    import time

    import pytest

    httpx = pytest.importorskip("httpx", reason='the loop needs the [serve] extra: pip install "accessrl[serve]"')
    from typer.testing import CliRunner

    from accessrl.cli import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "deployed.yaml").write_text(
        "new_request: request_evidence\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    cmds = loop_commands()
    assert [shlex.split(c)[1] for c in cmds] == ["logs", "learn-from-logs", "evaluate-policy", "serve", "promote",
                                                 "monitor", "rollback", "pilot"]
    runner = CliRunner()
    for cmd in cmds:
        args = shlex.split(cmd)
        assert args[0] == "accessrl"
        if args[1] == "serve":
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            proc = subprocess.Popen([sys.executable, "-m", "accessrl", *args[1:], "--port", str(port)],
                                    cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
            try:
                for _ in range(400):
                    try:
                        if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.05)
                else:
                    raise AssertionError("serve did not answer")
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            continue
        if args[1] == "pilot":
            args += ["--weeks", "4", "--requests-per-week", "40", "--n-boot", "60"]
        r = runner.invoke(app, args[1:])
        assert r.exit_code == 0, (cmd, r.output)
        if args[1] == "promote":
            assert "promoted: lower bound" in " ".join(r.output.split())
        if args[1] == "rollback":
            assert "restores" in r.output
    assert (tmp_path / "candidate.yaml").exists() and (tmp_path / "pilot" / "value.png").exists()
