"""Every command that reads a model, spec, policy, design or answers file, over a corpus of bad files.

Each run must end in one line ``accessrl: error: ...`` with exit 1 or 2 and no traceback
(:func:`cli_checks.one_error_line`), in-process through typer's CliRunner; a handful run as
real subprocesses, where a segmentation fault would show as a negative exit status.
``RESULTS`` counts the runs per category for the closing table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from accessrl.catalog import access_review, access_review_spec
from accessrl.cli import app
from accessrl.specfile import save_binary
from cli_checks import one_error_line

runner = CliRunner()
RESULTS: Counter[tuple[str, str]] = Counter()
GOOD_SPEC = access_review_spec()


def _spec_text(spec) -> str:
    return yaml.safe_dump(spec, sort_keys=False)


def _npz_members() -> dict[str, np.ndarray]:
    import io

    buf = io.BytesIO()
    save_binary(access_review(), buf)
    buf.seek(0)
    with np.load(buf) as z:
        return {k: z[k] for k in z.files}


def _with(members: dict, **changes) -> dict:
    out = dict(members)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def _bad_npz_members() -> dict[str, dict]:
    m = _npz_members()
    nxt = m["out_next"]
    meta = json.loads(m["meta"].tobytes().decode())

    def meta_with(**kw):
        return np.frombuffer(json.dumps({**meta, **kw}).encode(), dtype=np.uint8)

    return {
        "out_next_1e9": _with(m, out_next=np.where(np.arange(nxt.size) == 0, 10**9, nxt)),
        "out_next_neg": _with(m, out_next=np.where(np.arange(nxt.size) == 1, -5, nxt)),
        "out_prob_5_-1": _with(m, out_prob=np.array([5.0, -1.0, *m["out_prob"][2:]])),
        "out_prob_nan": _with(m, out_prob=np.full(nxt.size, np.nan)),
        "out_reward_inf": _with(m, out_reward=np.full(nxt.size, np.inf)),
        "sa_action_big": _with(m, sa_action=m["sa_action"] + 100),
        "sa_ptr_not_monotone": _with(m, sa_ptr=m["sa_ptr"][::-1].copy()),
        "out_ptr_short": _with(m, out_ptr=m["out_ptr"][:-1]),
        "out_ptr_past_end": _with(m, out_ptr=m["out_ptr"] + 1),
        "out_next_float": _with(m, out_next=nxt.astype(np.float64)),
        "out_next_int32": _with(m, out_next=np.where(np.arange(nxt.size) == 0, 99, nxt).astype(np.int32)),
        "terminal_int": _with(m, terminal=m["terminal"].astype(np.int64)),
        "missing_out_prob": _with(m, out_prob=None),
        "missing_meta": _with(m, meta=None),
        "meta_not_json": _with(m, meta=np.frombuffer(b"\xff{", dtype=np.uint8)),
        "meta_list": _with(m, meta=np.frombuffer(b"[1, 2]", dtype=np.uint8)),
        "meta_no_gamma": _with(m, meta=np.frombuffer(
            json.dumps({k: v for k, v in meta.items() if k != "gamma"}).encode(), dtype=np.uint8)),
        "meta_gamma_text": _with(m, meta=meta_with(gamma="0.9")),
        "meta_gamma_2": _with(m, meta=meta_with(gamma=2.0)),
        "meta_start_huge": _with(m, meta=meta_with(start=10**30)),
        "meta_start_float": _with(m, meta=meta_with(start=1.5)),
        "meta_format": _with(m, meta=meta_with(format="accessrl-csr-99")),
        "meta_deep": _with(m, meta=np.frombuffer(("[" * 100_000 + "]" * 100_000).encode(), dtype=np.uint8)),
        "meta_factored_bad": _with(m, meta=meta_with(factored_names={"radix": [-1, 5], "tail": []})),
        "states_float": _with(m, states=np.zeros(4)),
        "states_duplicate": _with(m, states=np.frombuffer(b"a\na\nb\nc", dtype=np.uint8)),
        "states_too_few": _with(m, states=np.frombuffer(b"a\nb", dtype=np.uint8)),
        "forbidden_short": _with(m, forbidden=np.zeros(2, dtype=bool)),
        "event_code_out_of_range": _with(m, event_code=np.array([7, 0, 0, 0, 0, 0], dtype=np.int32),
                                         meta=meta_with(event_labels=["x"])),
        "object_array": _with(m, out_prob=np.array([object()] * nxt.size, dtype=object)),
    }


def _raw_bad_npz(tmp: Path) -> dict[str, Path]:
    good = tmp / "good.npz"
    save_binary(access_review(), good)
    raw = good.read_bytes()
    files = {"truncated_half": raw[: len(raw) // 2], "truncated_10": raw[:10], "empty": b"",
             "not_zip": b"hello, not a zip\n" * 10, "flipped": raw[:200] + bytes(b ^ 0xFF for b in raw[200:400]) + raw[400:]}
    out = {}
    for name, data in files.items():
        p = tmp / f"{name}.npz"
        p.write_bytes(data)
        out[name] = p
    for name, members in _bad_npz_members().items():
        p = tmp / f"{name}.npz"
        np.savez(p, **members)  # the object array is pickled by np.save; the loader must refuse it
        out[name] = p
    np.savez_compressed(tmp / "compressed_bad.npz", **_bad_npz_members()["out_next_1e9"])
    out["compressed_bad"] = tmp / "compressed_bad.npz"
    (tmp / "a_dir.npz").mkdir()
    out["directory"] = tmp / "a_dir.npz"
    return out


def _bad_specs(tmp: Path) -> dict[str, Path]:
    good = _spec_text(GOOD_SPEC)
    texts: dict[str, bytes] = {
        "huge_int_400": good.replace("reward: 70", "reward: " + "9" * 400).encode(),
        "huge_int_5000": good.replace("gamma: 0.9", "gamma: " + "9" * 5000).encode(),
        "deep_yaml": ("gamma: 0.9\ntransitions: " + "[" * 100_000 + "]" * 100_000 + "\n").encode(),
        "deep_block": ("gamma: 0.9\ntransitions:\n" + "".join("  " * i + "- \n" for i in range(2000))).encode(),
        "closed_scalar": (good + "  closed: 5\n").encode(),
        "terminal_scalar": good.replace("terminal:\n- closed", "terminal: 5").encode(),
        "utf16_no_bom": good.encode("utf-16-le"),
        "latin1": good.replace("name: access-review", "name: caf\u00e9").encode("latin-1"),
        "nul": good.replace("name: access-review", "name: a\x00b").encode(),
        "binary_garbage": bytes(range(256)) * 4,
        "python_tag": b"gamma: !!python/object/apply:os.system ['true']\ntransitions: {}\n",
        "anchor_loop": b"gamma: 0.9\ntransitions: &t {s: *t}\n",
        "merge_key": b"gamma: 0.9\nbase: &b {x: 1}\ntransitions:\n  <<: *b\n",
        "two_documents": (good + "---\n" + good).encode(),
        "nan_reward": good.replace("reward: 70", "reward: .nan").encode(),
        "list_top": b"- 1\n- 2\n",
        "empty": b"",
        "only_comment": b"# nothing\n",
    }
    out = {}
    for name, data in texts.items():
        p = tmp / f"{name}.yaml"
        p.write_bytes(data)
        out[name] = p
    json_texts = {
        "json_deep": ('{"gamma": 0.9, "transitions": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(),
        "json_huge_int": ('{"gamma": ' + "9" * 5000 + ', "transitions": {}}').encode(),
        "json_nan": b'{"gamma": NaN, "transitions": {}}',
        "json_utf16": json.dumps(GOOD_SPEC).encode("utf-16-le"),
    }
    for name, data in json_texts.items():
        p = tmp / f"{name}.json"
        p.write_bytes(data)
        out[name] = p
    return out


def _bad_policies(tmp: Path) -> dict[str, Path]:
    texts = {
        "unknown_state": "new_request: request_evidence\nnowhere: approve\n",
        "spec_as_policy": _spec_text(GOOD_SPEC),
        "scalar": "5\n",
        "action_list": "new_request: [a, b]\n",
        "prob_nan": "new_request: {request_evidence: .nan}\n",
        "prob_huge": "new_request: {request_evidence: " + "9" * 400 + "}\n",
        "latin1": "new_request: caf\u00e9\n",
        "deep": "new_request: " + "[" * 5000 + "]" * 5000 + "\n",
    }
    out = {}
    for name, text in texts.items():
        p = tmp / f"pol_{name}.yaml"
        p.write_bytes(text.encode("latin-1" if name == "latin1" else "utf-8"))
        out[name] = p
    return out


def _bad_designs(tmp: Path) -> dict[str, Path]:
    texts = {
        "scalar": b"5\n",
        "designs_scalar": b"designs: 5\n",
        "weights_text": b"designs: {d: {weights: {resolved: high}}}\n",
        "weights_huge": b"designs: {d: {weights: {resolved: " + b"9" * 400 + b"}}}\n",
        "weights_nan": b"designs: {d: {weights: {resolved: .nan}}}\n",
        "deep": b"designs: " + b"[" * 5000 + b"]" * 5000 + b"\n",
        "latin1": "designs: {caf\u00e9: {weights: {resolved: 1}}}\n".encode("latin-1"),
        "nul": b"designs: {d\x00: {weights: {resolved: 1}}}\n",
        "empty": b"",
    }
    out = {}
    for name, data in texts.items():
        p = tmp / f"des_{name}.yaml"
        p.write_bytes(data)
        out[name] = p
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    return {"npz": _raw_bad_npz(tmp), "spec": _bad_specs(tmp), "policy": _bad_policies(tmp),
            "design": _bad_designs(tmp)}


MODEL_COMMANDS = [
    ["check"], ["solve"], ["solve", "--method", "compiled-mpi"], ["evaluate", "--policy", "uniform"],
    ["simulate", "--episodes", "20"], ["learn", "--episodes", "20"], ["reinforce", "--episodes", "5"],
    ["sweep", "--vary", "new_request.request_evidence.evidence_ready"],
]


def _invoke(args: list[str]):
    return runner.invoke(app, args)


def _check(category: str, result, codes=(1, 2)) -> None:
    try:
        one_error_line(result, code=codes)
    except AssertionError:
        RESULTS[(category, "FAILED")] += 1
        raise
    RESULTS[(category, f"one line, exit {result.exit_code}")] += 1


@pytest.mark.parametrize("kind", ["npz", "spec"])
@pytest.mark.parametrize("command", MODEL_COMMANDS, ids=lambda c: " ".join(c[:1]))
def test_bad_models_through_every_model_command(corpus, kind, command):
    for path in corpus[kind].values():
        args = [command[0], str(path), *command[1:]]
        _check(f"{kind} model file", _invoke(args))


@pytest.mark.parametrize("command", [["evaluate", "catalog:access-review", "--policy"],
                                     ["simulate", "catalog:access-review", "--episodes", "10", "--policy"]],
                         ids=["evaluate", "simulate"])
def test_bad_policy_files(corpus, command):
    for name, path in corpus["policy"].items():
        r = _invoke([*command, str(path)])
        _check("policy file", r)
        if name == "spec_as_policy":
            assert "workflow spec" in r.stderr
        if name == "unknown_state":
            assert "nowhere" in r.stderr


def test_bad_design_files(corpus):
    for path in corpus["design"].values():
        _check("design file", _invoke(["audit", "catalog:access-review-components", "--designs", str(path)]))
        _check("design file", _invoke(["constrain", "catalog:access-review-components", "--designs", str(path),
                                       "--design", "d"]))


def test_bad_answers_files(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path / "data"))
    texts = {"latin1": "a\n\xe9\n".encode("latin-1"), "utf16": "a\nb\n".encode("utf-16-le"), "few": b"a\nb\n",
             "json_deep": b"[" * 100_000 + b"]" * 100_000, "json_dict": b'[{"a": 1}]', "binary": bytes(range(256)),
             "huge": b"a\n" * 600_000}
    for name, data in texts.items():
        p = tmp_path / f"{name}.txt"
        p.write_bytes(data)
        _check("answers file", _invoke(["lesson", "quiz", "--answers", str(p)]), codes=(2,))
    (tmp_path / "dir").mkdir()
    _check("answers file", _invoke(["lesson", "quiz", "--answers", str(tmp_path / "dir")]), codes=(2,))


@pytest.mark.parametrize("args", [
    ["generate", "OUT.npz", "--states", "1e23"], ["generate", "OUT.npz", "--states", "0"],
    ["generate", "OUT.npz", "--states", "-1"], ["generate", "OUT.npz", "--states", str(10**23)],
    ["generate", "OUT.npz", "--kind", "rand", "--states", str(10**14)], ["generate", "OUT.npz", "--max-days", str(10**10)],
    ["generate", "OUT.npz", "--max-days", "100000"], ["generate", "OUT.npz", "--seed", "-1"],
    ["generate", "OUT.npz", "--gamma", "nan"], ["generate", "OUT.npz", "--kind", "rand", "--successors", str(10**11)],
    ["simulate", "catalog:access-review", "--episodes", str(10**30)], ["simulate", "catalog:access-review", "--episodes", "0"],
    ["simulate", "catalog:access-review", "--episodes", "-1"], ["simulate", "catalog:access-review", "--seed", "-5"],
    ["simulate", "catalog:access-review", "--max-steps", str(10**30)],
    ["learn", "catalog:access-review", "--episodes", str(10**23)],
    ["learn", "catalog:access-review", "--episodes", str(10**10)], ["solve", "catalog:access-review", "--tol", "0"],
    ["solve", "catalog:access-review", "--tol", "nan"], ["reinforce", "catalog:access-review", "--episodes", str(10**20)],
    ["simulate", "catalog:access-review", "--episodes", "9" * 5000],
])
def test_hostile_flags_are_one_line_exit_2(tmp_path, args):
    args = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    _check("flag", _invoke(args), codes=(2,))


SUBPROCESS_CASES = [("npz", "out_next_1e9", "solve"), ("npz", "out_next_neg", "simulate"),
                    ("npz", "out_prob_5_-1", "evaluate"), ("npz", "out_next_int32", "solve"),
                    ("npz", "truncated_half", "check"), ("spec", "deep_yaml", "solve"), ("spec", "json_deep", "check")]


@pytest.mark.parametrize("kind, name, command", SUBPROCESS_CASES, ids=[f"{c}-{n}" for _, n, c in SUBPROCESS_CASES])
def test_real_processes_do_not_crash(corpus, kind, name, command):
    """A segfault or abort shows here as a negative return code; the compiled solver is forced where it matters."""
    extra = {"solve": ["--method", "compiled-mpi"], "simulate": ["--episodes", "20"], "evaluate": ["--policy", "uniform"]}
    args = [sys.executable, "-m", "accessrl", command, str(corpus[kind][name]), *extra.get(command, [])]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("accessrl: error: ") and "Traceback" not in proc.stderr, proc.stderr
    RESULTS[("real subprocess", "one line, exit 1")] += 1


def test_write_counts(request):
    """Write the counts of this module (and the hostile model/spec suites run before it) for the closing table."""
    import os

    target = os.environ.get("ACCESSRL_HOSTILE_COUNTS")
    if target:
        from importlib import import_module

        counts = Counter(RESULTS)
        for mod in ("test_hostile_specs", "test_hostile_models"):
            m = sys.modules.get(mod) or next((v for k, v in sys.modules.items() if k.endswith(mod)), None)
            if m is not None:
                counts.update(m.COUNTS)
        _ = import_module
        rows = sorted(counts.items())
        Path(target).write_text(json.dumps([[c, r, n] for (c, r), n in rows], indent=1))
    assert all(r != "FAILED" for _, r in RESULTS)
