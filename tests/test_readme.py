"""The README's two Quickstart commands stay honest: the first runs (on a tiny budget where it
offers one), the second is exactly what CI runs."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

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


def readme_commands() -> list[str]:
    """Every command line of the README's shell blocks (```bash and plain ``` blocks that
    start with a command), continuations joined and trailing comments dropped."""
    text = (ROOT / "README.md").read_text()
    out = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, re.S):
        if lang not in ("bash", ""):
            continue
        joined = body.replace("\\\n", " ")
        for line in joined.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and re.match(r"(accessrl|pip|python|psql|export) ", line):
                out.append(" ".join(line.split()))
    return out


# Every README command and how the test runs it: concrete runs (the README's synopsis
# notation made concrete: SPEC -> a file, a|b -> each or the first, [opt] -> with and
# without), ``budget`` flags that shrink a long run (appended, so they override the README's
# value; the only flags a run may add), or the reason it is illustrative only.  A README command without an entry fails the test.
SPEC = "examples/access_review_abandonment.yaml"
LOOP = "run as written, in order, by test_the_deployment_loop_runs_as_written"
Run = tuple[list[str], dict[str, str], tuple[int, ...]]  # (argv after "accessrl", budget flags, exit codes)


def run(cmd: str, budget: dict[str, str] | None = None, codes: tuple[int, ...] = (0,)) -> Run:
    return (shlex.split(cmd), budget or {}, codes)


README_RUNS: dict[str, list[Run] | str] = {
    'pip install -e . && accessrl tour': "run as written by test_first_command_runs",
    'pip install "torch==2.13.0" -e ".[test]" && python -m pytest': "this test suite itself (CI runs it, .ci/run)",
    'pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu':
        "needs the network; the CI machine has the CPU wheel locally",
    'pip install -e ".[test]" && python -m pytest': "this test suite itself",
    f'accessrl solve {SPEC}': [run(f"solve {SPEC}")],
    f'accessrl solve {SPEC} --json': [run(f"solve {SPEC} --json")],
    'accessrl solve SPEC --method value-iteration|policy-iteration|modified-policy-iteration|auto --tol 1e-6':
        [run(f"solve {SPEC} --method {m} --tol 1e-6")
         for m in ("value-iteration", "policy-iteration", "modified-policy-iteration", "auto")],
    'accessrl evaluate SPEC --policy examples/policy_always_review.yaml':
        [run(f"evaluate {SPEC} --policy examples/policy_always_review.yaml"), run(f"evaluate {SPEC} --policy uniform")],
    'accessrl sweep SPEC --vary new_request.request_evidence.closed --from 0 --to 0.2 --steps 21':
        [run(f"sweep {SPEC} --vary new_request.request_evidence.closed --from 0 --to 0.2 --steps 21")],
    'accessrl lesson [LAB ...]': [run("lesson returns bellman-backup value-iteration abandonment")],
    'accessrl lesson exercises': [run("lesson exercises")],
    'accessrl --version': [run("--version")],
    'accessrl tour [--out DIR] [--quick]': [run("tour --out tour --quick")],
    'accessrl lesson quiz [--answers FILE]': [run("lesson quiz --answers answers.txt")],
    'accessrl serve catalog:access-review-abandonment --policy optimal --db decisions.db [--host 127.0.0.1 '
    '--port 8000] [--epsilon 0.1] [--shadow CANDIDATE.yaml] [--token-hash SHA256]':
        [run("serve catalog:access-review-abandonment --policy optimal --db decisions.db --host 127.0.0.1 "
             "--port PORT --epsilon 0.1 --shadow candidate.yaml")],  # a server: started, used, stopped (serve_briefly)
    'accessrl promote --candidate CANDIDATE.yaml --db decisions.db':
        [run("promote --candidate candidate.yaml --db decisions.db", codes=(0, 1))],  # 1: not promoted (the evidence says no)
    'accessrl logs generate catalog:access-review-abandonment --behavior uniform --epsilon 0.1 --requests 5000 '
    '--since 2026-01-05 --seed 1 --db logs.db [--drift 0.5 --drift-share 0.5] [--out gen.jsonl]':
        [run("logs generate catalog:access-review-abandonment --behavior uniform --epsilon 0.1 --requests 5000 "
             "--since 2026-01-05 --seed 1 --db logs.db --out gen.jsonl"),
         run("logs generate catalog:access-review-abandonment --behavior uniform --epsilon 0.1 --requests 500 "
             "--since 2026-01-05 --seed 1 --db drift.db --drift 0.5 --drift-share 0.5")],
    'accessrl logs ingest FILE.jsonl|FILE.csv|FILE.parquet --db logs.db': [run("logs ingest gen.jsonl --db logs.db")],
    'accessrl logs export --db logs.db --out all.parquet': [run("logs export --db logs.db --out all.parquet")],
    'accessrl logs estimate --db logs.db [--until 2026-02-01] --out estimated.yaml [--min-support 10 --low-support '
    'mark|drop] [--drift-at DATE]':
        [run("logs estimate --db logs.db --out estimated.yaml"),
         run("logs estimate --db logs.db --until 2026-02-01 --out estimated2.yaml --min-support 10 --low-support drop")],
    'accessrl evaluate-policy --db logs.db --split test --policy candidate.yaml [--learn fqi --learn spibb] '
    '[--prevent-leakage]':
        [run("evaluate-policy --db logs.db --split test --policy candidate.yaml"),
         run("evaluate-policy --db logs.db --split test --policy candidate.yaml --learn fqi --learn spibb "
             "--prevent-leakage")],
    'accessrl logs generate examples/fast_track.yaml --behavior examples/policy_human_review.yaml --epsilon 0.004 '
    '--requests 3000 --seed 13 --db fast.db':
        [run("logs generate examples/fast_track.yaml --behavior examples/policy_human_review.yaml --epsilon 0.004 "
             "--requests 3000 --seed 13 --db fast.db")],
    'accessrl evaluate-policy --db fast.db --policy examples/policy_fast_track.yaml --incumbent '
    'examples/policy_human_review.yaml':
        [run("evaluate-policy --db fast.db --policy examples/policy_fast_track.yaml --incumbent "
             "examples/policy_human_review.yaml")],  # its verdict block: tests/cli/test_evidence_gate.py
    'accessrl monitor --db logs.db --since 2026-03-01 [--until 2026-04-01] [--reference history]':
        [run("monitor --db logs.db --since 2026-03-01"),
         run("monitor --db logs.db --since 2026-03-01 --until 2026-04-01 --reference history")],
    'psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE accessrl_ci"': "CI's PostgreSQL set-up (.ci/run does it)",
    'export ACCESSRL_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/accessrl_ci':
        "the environment of the storage tests (tests/conftest.py reads it)",
    'python -m pytest tests/storage': "a part of this suite",
    'accessrl lesson policy-gradient': [run("lesson policy-gradient")],
    'accessrl learn catalog:access-review-abandonment --algorithm reinforce':
        [run("learn catalog:access-review-abandonment --algorithm reinforce", {"--episodes": "480"})],
    'accessrl reinforce catalog:access-review-abandonment --baseline value':
        [run("reinforce catalog:access-review-abandonment --baseline value", {"--episodes": "480"})],
    'pip install "accessrl[llm]"': "an install; the test extra includes it",
    'accessrl llm demo [--algorithm rloo|grpo|ppo] [--beta 0 --beta 0.2] [--seed 0] [--plot kl.png]':
        [run("llm demo --algorithm grpo --beta 0 --beta 0.2 --seed 0 --plot kl.png",
             {"--steps": "3", "--prompts": "4"})],
    'accessrl audit examples/access_review_deny.yaml --designs examples/designs.yaml [--json] [--plot audit.png] '
    '[--simulate 10000]':
        [run("audit examples/access_review_deny.yaml --designs examples/designs.yaml"),
         run("audit examples/access_review_deny.yaml --designs examples/designs.yaml --json --plot audit.png "
             "--simulate 1000")],
    "accessrl constrain catalog:access-review-deny --weight resolved=100 --weight delay_days=-10 --limit "
    "'policy_violation<=0' --limit 'unfair_denial<=0.05' [--json]":
        [run("constrain catalog:access-review-deny --weight resolved=100 --weight delay_days=-10 "
             "--limit 'policy_violation<=0' --limit 'unfair_denial<=0.05' --json")],
    'accessrl constrain SPEC --designs examples/designs.yaml --design speed_within_policy':
        [run("constrain examples/access_review_deny.yaml --designs examples/designs.yaml --design speed_within_policy")],
    'accessrl simulate SPEC --policy optimal|uniform|FILE --episodes 10000 --seed 7 [--first-action A] [--json] '
    '[--plot h.png]':
        [run(f"simulate {SPEC} --policy optimal --episodes 10000 --seed 7 --json"),
         run(f"simulate {SPEC} --policy examples/policy_always_review.yaml --episodes 10000 --seed 7 "
             "--first-action request_evidence --plot h.png")],
    'accessrl learn SPEC --algorithm q-learning|sarsa|expected-sarsa|double-q --episodes 20000 --epsilon 0.15 --seed 13 '
    '[--step-size visits|1/n|0.1] [--omega 0.6] [--never-explore STATE:ACTION ...] [--engine auto|reference|fast] '
    '[--json] [--plot c.png]':
        [run(f"learn {SPEC} --algorithm {a} --episodes 20000 --epsilon 0.15 --seed 13")
         for a in ("q-learning", "sarsa", "expected-sarsa", "double-q")]
        + [run(f"learn {SPEC} --algorithm q-learning --episodes 20000 --epsilon 0.15 --seed 13 --step-size 0.1 "
               "--omega 0.6 --never-explore new_request:auto_approve --engine reference --json --plot c.png",
               {"--episodes": "2000"})],
    'accessrl lesson monte-carlo q-learning exploration': [run("lesson monte-carlo q-learning exploration")],
    'accessrl generate queue.npz --states 1000000':
        [run("generate queue.npz --states 1000000", {"--states": "20000"})],  # 1e6: 570 MB, see bench_planning
    'accessrl generate queue-loop.npz --states 100000 --cyclic --breach-cost 20,100,500 --gamma 0.99':
        [run("generate queue-loop.npz --states 100000 --cyclic --breach-cost 20,100,500 --gamma 0.99",
             {"--states": "5000"})],
    'accessrl generate rand.npz --kind rand --states 100000 --actions 4 --successors 10 --seed 1':
        [run("generate rand.npz --kind rand --states 100000 --actions 4 --successors 10 --seed 1",
             {"--states": "5000"})],
    'accessrl solve queue.npz --method auto --threads auto': [run("solve queue.npz --method auto --threads auto"),
                                                               run("solve queue.npz --method auto --threads 1")],
    'python benchmarks/bench_generate.py --sizes 10000000':
        "generates and solves 1e7 states (about 6 GB, minutes); its results are in benchmarks/results/generate.md",
    'accessrl solve queue.npz --out queue-solved.parquet': [run("solve queue.npz --out queue-solved.parquet")],
    'python benchmarks/bench_planning.py': "a 10-15 minute benchmark (its results are in benchmarks/results/planning.md)",
    'python -m pytest tests/planning': "a part of this suite",
    'pip install -e ".[studio]" && accessrl studio [--host 127.0.0.1 --port 8765] [--open] [--db decisions.db]':
        "an install and a server; tests/studio starts the app and drives every page in Chromium",
    'accessrl studio --export DIR': [run("studio --export studio-pages")],
    'accessrl exercise check 1 5/113': [run("exercise check 1 5/113")],
    'accessrl logs generate catalog:access-review-abandonment --requests 2000 --per-hour 1 --seed 1 --db loop.db':
        LOOP,
    'accessrl learn-from-logs --db loop.db --out-dir learned --chosen candidate.yaml': LOOP,
    'accessrl evaluate-policy --db loop.db --incumbent deployed.yaml --policy candidate.yaml': LOOP,
    'accessrl serve catalog:access-review-abandonment --policy deployed.yaml --db loop.db --shadow candidate.yaml':
        LOOP,
    'accessrl promote --candidate candidate.yaml --db loop.db --by alice': LOOP,
    'accessrl monitor --db loop.db': LOOP,
    'accessrl rollback --db loop.db': LOOP,
    'accessrl pilot --out pilot': LOOP,
    'pip install -e ".[ray]"': "an install; the test extra includes it",
    'accessrl scale simulate catalog:access-review-abandonment --episodes 10000000 --seed 1 [--ray auto]':
        [run("scale simulate catalog:access-review-abandonment --episodes 10000000 --seed 1", {"--episodes": "100000"})],
    'accessrl scale sweep SPEC --grid new_request.request_evidence.closed=0:0.2:21 --grid STATE.ACTION.NEXT=0.1,0.3 '
    '[--ray ...]':
        [run(f"scale sweep {SPEC} --grid new_request.request_evidence.closed=0:0.2:21 "
             "--grid new_request.request_evidence.evidence_ready=0.7,0.9")],
    'accessrl scale audit SPEC --designs examples/designs.yaml [--ray ...]':
        [run("scale audit examples/access_review_deny.yaml --designs examples/designs.yaml")],
    "accessrl scale constrain SPEC --weight resolved=100 --setting 'policy_violation<=0' "
    "--setting 'policy_violation<=0;delay_days<=1'":
        [run("scale constrain examples/access_review_deny.yaml --weight resolved=100 --setting 'policy_violation<=0' "
             "--setting 'policy_violation<=0;delay_days<=1'")],
    'accessrl scale learn SPEC --algorithm q-learning --algorithm sarsa --seed 1 --seed 2 --epsilon 0.1 --epsilon 0.2 '
    '--out best.yaml':
        [run(f"scale learn {SPEC} --algorithm q-learning --algorithm sarsa --seed 1 --seed 2 --epsilon 0.1 "
             "--epsilon 0.2 --out best.yaml", {"--episodes": "2000"})],
    'accessrl scale evaluate SPEC --policy best.yaml --partition part-00000.parquet --partition part-00001.parquet '
    '[--ray ...]':
        "needs Parquet partitions (accessrl.distributed.partitions.export_partitions writes them); "
        "tests/distributed/test_partitions.py and tests/cli/test_scale.py evaluate partition files",
    'accessrl scale evaluate SPEC --policy best.yaml --db postgresql://user@host/db --since 2026-01-05 '
    '--until 2026-03-02 --every 7':
        [run(f"scale evaluate {SPEC} --policy best.yaml --db logs.db --since 2026-01-05 --until 2026-03-02 --every 7")],
}


def flags(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))


def test_every_readme_command_has_a_run_or_a_reason():
    cmds = readme_commands()
    assert len(cmds) > 30  # the scan finds the blocks
    missing = [c for c in cmds if c not in README_RUNS]
    stale = [c for c in README_RUNS if c not in cmds]
    assert not missing, f"README commands the test does not run (add them to README_RUNS): {missing}"
    assert not stale, f"README_RUNS names commands the README no longer has: {stale}"


@pytest.mark.parametrize("cmd", [c for c, r in README_RUNS.items() if not isinstance(r, str)])
def test_runs_use_the_readme_flags(cmd):
    """A run uses the command and the flags the README line writes (its required flags all,
    its optional ones as it likes) and adds only budget flags."""
    required = flags(re.sub(r"\[[^\]]*\]", "", cmd))
    allowed = flags(cmd)
    words = shlex.split(cmd)[1:3]
    for argv, budget, _ in README_RUNS[cmd]:  # type: ignore[union-attr]
        if argv[0] == "logs" and words[:2] != ["logs", argv[1]] and "promote" in cmd:
            continue  # promote's set-up step
        used = flags(" ".join(argv))
        assert required <= used, (cmd, argv)
        assert used <= allowed, (cmd, argv)
        assert set(budget) <= BUDGET_FLAGS, (cmd, budget)


BUDGET_FLAGS = {"--episodes", "--states", "--steps", "--prompts", "--requests"}
"""Flags a run may add (or override: click takes the last value) to shrink a long run."""


@pytest.mark.slow
def test_readme_commands_run(tmp_path, monkeypatch):
    """Run every README command (README order, one working directory, so later commands read
    what earlier ones wrote), in-process, with the budgets above."""
    import shutil

    from typer.testing import CliRunner

    from accessrl.cli import app

    for name in ("examples",):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "examples" / "policy_always_review.yaml", tmp_path / "candidate.yaml")
    (tmp_path / "answers.txt").write_text("a\n" * 10)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    failures = []
    for cmd in readme_commands():
        runs = README_RUNS[cmd]
        if isinstance(runs, str):
            continue
        for argv, budget, codes in runs:
            args = argv + [x for kv in budget.items() for x in kv]
            if args[0] == "serve":
                failures += serve_briefly(args, tmp_path)
                continue
            r = runner.invoke(app, args)
            if r.exit_code not in codes or (r.exception is not None and not isinstance(r.exception, SystemExit)):
                failures.append(f"accessrl {' '.join(args)} -> exit {r.exit_code}: {r.output[-400:]}")
    assert not failures, "\n".join(failures)


def serve_briefly(args: list[str], cwd: Path, requests: int = 160) -> list[str]:
    """Start ``accessrl serve`` (a free loopback port for PORT), answer ``requests`` requests to
    the end of their episodes, stop it; the problems found, if any."""
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-m", "accessrl", *(str(port) if a == "PORT" else a for a in args)]
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            return [f"accessrl {' '.join(args)}: did not start"]
        with httpx.Client(base_url=base, timeout=5) as h:
            for i in range(requests):
                r = h.post("/v1/requests", json={"requester_id": f"u{i}"})
                if r.status_code != 201:
                    return [f"accessrl {' '.join(args)}: POST /v1/requests -> {r.status_code} {r.text}"]
                body = r.json()
                while body["decision"] is not None:
                    body = h.post(f"/v1/requests/{body['request_id']}/events", json={"kind": "review_outcome"}).json()
                    if "decision" not in body:
                        body["decision"] = None  # an event that cannot follow: leave the episode open
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return []


@pytest.mark.slow
def test_every_python_block_runs():
    """The README's Python blocks outside the Python API section (which has its own test) run
    as written (the SB3 block trains PPO for 8k steps and checks its own claim below)."""
    text = (ROOT / "README.md").read_text()
    api = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if b not in api]
    assert blocks
    for block in blocks:
        ns: dict[str, object] = {}
        if "stable_baselines3" in block:
            pytest.importorskip("stable_baselines3")
            import torch

            torch.set_num_threads(1)
        exec(compile(block, "README.md", "exec"), ns)
        if "model" in ns and "venv" in ns:  # the SB3 block: "then model.predict(0) is human_review"
            import numpy as np

            action, _ = ns["model"].predict(np.array(0), deterministic=True)  # type: ignore[attr-defined]
            assert int(action) == 2  # human_review, the optimal first action (policy iteration)


def test_generate_help_shows_every_parameter_and_its_default():
    """The README: every WorkflowParams field is an option of `accessrl generate`, with its default."""
    import dataclasses

    from typer.testing import CliRunner

    from accessrl.catalog.workflows import WorkflowParams
    from accessrl.cli import app

    text = " ".join(CliRunner().invoke(app, ["generate", "--help"], terminal_width=200).output.split())
    for f in dataclasses.fields(WorkflowParams):
        flag = "--" + f.name.replace("_", "-")
        assert flag in text, flag
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        after = text.split(flag, 1)[1][:300]
        if isinstance(default, bool):  # a --x / --no-x pair names the default side
            assert "[default: " in after, flag
            continue
        shown = ",".join(str(v) for v in default) if isinstance(default, tuple) else str(default)
        assert f"[default: {shown}]" in after, (flag, shown)


def llm_table_in(text: str) -> str:
    m = re.search(r"<!-- llm-demo-table -->\n(.*?)<!-- /llm-demo-table -->", text, re.S)
    assert m, "the README's LLM table sits between its markers"
    return m.group(1)


def test_readme_llm_table_is_the_generated_one():
    """The README quotes benchmarks/results/llm_demo.md (written by benchmarks/readme_llm_table.py),
    and the sample responses it quotes are in that file."""
    readme = (ROOT / "README.md").read_text()
    results = (ROOT / "benchmarks" / "results" / "llm_demo.md").read_text()
    table = llm_table_in(readme)
    assert table in results
    for quoted in re.findall(r"`((?:human_review|auto_approve|request_evidence) [a-z0-9 -]+)`", readme):
        assert quoted in " ".join(results.split()), quoted


@pytest.mark.slow
def test_llm_demo_reproduces_the_readme_table():
    """A fresh run of the demo's defaults (seed 0, one thread, as the CLI runs it) gives the table."""
    torch = pytest.importorskip("torch")
    from accessrl.llm.demo import DemoConfig, demo_table, run_demo, sample_lines

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = run_demo(DemoConfig(), seed=0)
    finally:
        torch.set_num_threads(before)
    assert demo_table(res) == llm_table_in((ROOT / "README.md").read_text()), (
        "the demo no longer reproduces the README's table: run python benchmarks/readme_llm_table.py")
    results = (ROOT / "benchmarks" / "results" / "llm_demo.md").read_text()
    assert "\n".join(sample_lines(res)) in results


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


README_FIGURES = [
    # (the README's words, the results file, the cells of that file they quote)
    ("8.7 s of CPU time with an empty\ncache, 1.3 s with it (the acyclic workflow: 3.1 s and 1.2 s",
     "jit.md", ["| random 1e5, compiled-mpi | 8.7 | 1.3 |", "| acyclic workflow 1e5, auto | 3.1 | 1.2 |"]),
    ("51 MB at most over\n30 s of 16 clients, for a 38 MB database", "service.md", ["| 50.9 | 37.7 |"]),
    ("| issue | worse: -33.00 vs 54.00 | 1 | 0.0% | 12.0% |", "gate.md",
     ["| worse: -33.00 vs 54.00 | 1 | 0.0% [0.0, 1.9] | 12.0% [8.2, 17.2] |"]),
    ("| pilot-better | better: 53.35 vs 42.00 | 52 | 38.5% | 87.0% |", "gate.md",
     ["| better: 53.35 vs 42.00 | 52 | 38.5% [32.0, 45.4] | 87.0% [81.6, 91.0] |"]),
    ("takes 19.2 s on PostgreSQL and 24.3 s on SQLite (0.79x, the same", "pg_estimate.md",
     ["| postgresql | 66.1 | 19.20 |", "| sqlite | 57.6 | 24.33 |", "**0.79x**"]),
]


@pytest.mark.parametrize("words,results,cells", README_FIGURES)
def test_readme_figures_are_the_benchmarks(words, results, cells):
    """A benchmark figure the README quotes is the one its results file holds (rounded as written)."""
    text = (ROOT / "README.md").read_text()
    assert words in text, f"the README no longer says: {words!r}"
    table = (ROOT / "benchmarks" / "results" / results).read_text()
    for cell in cells:
        assert cell in table, f"{results} does not hold {cell!r} (re-run its benchmark and update the README)"
