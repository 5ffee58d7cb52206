"""`accessrl llm demo --engine trl` end to end on a small budget: TRL's SFT, the Bradley–Terry reward
as a TRL reward function, TRL's RLOO / GRPO trainers, the built-in engine's table and samples."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason='accessrl.llm needs PyTorch: pip install "accessrl[llm]"')
pytest.importorskip("trl", reason='the TRL engine needs trl: pip install "accessrl[trl]"')

import torch  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from accessrl.cli import app  # noqa: E402
from accessrl.llm.task import PROMPTS, TOKEN, encode  # noqa: E402
from cli_checks import one_error_line  # noqa: E402

runner = CliRunner()
SMALL = ["--steps", "6", "--prompts", "8", "--beta", "0", "--beta", "0.2", "--log-every", "5"]


@pytest.fixture(autouse=True)
def offline_and_threads(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"):
        monkeypatch.setenv(var, "1" if var != "TOKENIZERS_PARALLELISM" else "false")  # restored after the test
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("algorithm", ["rloo", "grpo"])
def test_trl_demo_runs_and_trains(algorithm):
    r = runner.invoke(app, ["llm", "demo", "--engine", "trl", "--algorithm", algorithm, "--json", *SMALL])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["engine"] == "trl" and 50_000 < out["n_params"] < 1_000_000
    assert [run["beta"] for run in out["runs"]] == [0.0, 0.2]
    ref = out["reference"]
    assert ref["kl"] == 0.0  # the reference against itself
    for run in out["runs"]:
        # training moved the policy away from the SFT model, and TRL logged its batches
        assert run["final"]["kl"] > 0.01
        assert run["final"]["proxy_reward"] != ref["proxy_reward"]
        steps = [h["step"] for h in run["history"]]
        assert steps[0] == 5 and steps[-1] <= 6 and steps == sorted(steps)
    assert [s["policy"] for s in out["samples"]] == ["reference", "beta=0", "beta=0.2"]
    assert all(len(s["responses"]) == 6 for s in out["samples"])
    # SFT worked: most reference responses start with a routing decision
    assert ref["route_accuracy"] > 0.3


def test_trl_demo_prints_the_builtin_engines_table():
    r = runner.invoke(app, ["llm", "demo", "--engine", "trl", *SMALL])
    assert r.exit_code == 0, r.output
    text = r.stdout
    assert "through TRL (trl.RLOOTrainer)" in text and "trl.SFTTrainer" in text
    assert "final evaluation (16 samples on each of the 12 prompts)" in text
    for header in ("policy", "proxy", "true", "KL", "entropy", "length", "route acc", "repeats"):
        assert header in text
    rows = [line for line in text.splitlines() if line.strip().strip("\u2502|").strip().startswith(("reference", "beta="))]
    assert len(rows) >= 3
    assert "sample responses (the same random numbers for every policy):" in text
    assert text.count("prompt: tier:") == 3
    assert "beta = 0: proxy reward" in text


def test_reward_function_is_the_bradley_terry_model():
    import numpy as np

    from accessrl.llm.hf import prompt_string
    from accessrl.llm.reward_model import prompt_matrix, train_reward_model
    from accessrl.llm.task import comparisons
    from accessrl.llm.trl_engine import BradleyTerryReward

    rng = np.random.default_rng(0)
    fit = train_reward_model(comparisons(60, rng), comparisons(20, rng), torch.Generator().manual_seed(0),
                             max_len=8, steps=20)
    p = PROMPTS[3]
    ids = list(encode(["human_review", "because", "policy-P7"])) + [TOKEN["<pad>"]] * 3  # TRL pads after <eos>
    got = BradleyTerryReward(fit.model, 8)([prompt_string(p)], ["-"], [ids])
    tok = torch.tensor([encode(["human_review", "because", "policy-P7"]) + (0,) * 4])
    mask = torch.tensor([[1.0] * 4 + [0.0] * 4])
    assert got == pytest.approx([float(fit.model(prompt_matrix([p]), tok, mask)[0])])


def test_trl_engine_refuses_what_it_does_not_run():
    r = runner.invoke(app, ["llm", "demo", "--engine", "trl", "--algorithm", "ppo"])
    one_error_line(r, "--algorithm", "rloo or grpo", code=2)
    r = runner.invoke(app, ["llm", "demo", "--engine", "trl", "--kl-estimator", "k2"])
    one_error_line(r, "--kl-estimator", "--engine builtin", code=2)
    r = runner.invoke(app, ["llm", "demo", "--engine", "tensorflow"])
    one_error_line(r, "--engine", "builtin or trl", code=2)
