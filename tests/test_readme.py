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
