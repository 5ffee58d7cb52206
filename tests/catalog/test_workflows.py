"""The factored access-review workflow generator, ``rand``, the binary format and `accessrl generate`."""

import json
from dataclasses import fields

import numpy as np
import pytest
from typer.testing import CliRunner

from accessrl.catalog.workflows import (
    ACTIONS,
    FactoredNames,
    WorkflowParams,
    access_review_workflow,
    rand,
    workflow_param_docs,
    workflow_params_for,
    workflow_size,
)
from accessrl.cli import app
from accessrl.errors import ParameterError
from accessrl.model.spec import compile_spec, spec_from_mdp
from accessrl.planning.kernels import strong_components
from accessrl.planning.solver import solve
from accessrl.specfile import load_binary, load_model, save_binary

runner = CliRunner()
SMALL = dict(max_days=4, max_reminders=1, queue_capacity=3, max_escalation=1)


def pair_sums(mdp):
    return np.add.reduceat(mdp.out_prob, mdp.out_ptr[:-1])


@pytest.fixture(scope="module", params=[False, True], ids=["acyclic", "cyclic"])
def small(request):
    return access_review_workflow(cyclic=request.param, **SMALL)


def test_size_formula_and_targets():
    for kw in (SMALL, dict(max_days=1, max_reminders=0, queue_capacity=1, max_escalation=0), {}):
        assert access_review_workflow(**kw).n_states == workflow_size(**kw)
    assert workflow_size(max_days=1, max_reminders=0, queue_capacity=1, max_escalation=0) == 28
    for n in (300, 1000, 10_000_000):
        p = workflow_params_for(n)
        assert n <= workflow_size(p) <= 1.2 * n + 300


def test_distributions_are_valid(small):
    assert np.allclose(pair_sums(small), 1.0, atol=1e-12)
    assert (small.out_prob > 0).all() and (small.out_next >= 0).all() and (small.out_next < small.n_states).all()
    assert small.terminal.sum() == 4 and (small.n_actions_of[small.terminal] == 0).all()
    assert (small.n_actions_of[~small.terminal] >= 3).all()
    # outcomes sorted by next state within each pair, no repeats
    same_pair = np.repeat(np.arange(small.n_pairs), np.diff(small.out_ptr))
    inner = same_pair[1:] == same_pair[:-1]
    assert (np.diff(small.out_next)[inner] > 0).all()


def test_structure_acyclic_vs_cyclic():
    comp_a = strong_components(access_review_workflow(**SMALL))[2]
    comp_c = strong_components(access_review_workflow(cyclic=True, **SMALL))[2]
    assert np.diff(comp_a).max() == 1
    assert np.diff(comp_c).max() > 1


def _state(mdp, name):
    return mdp.state_names.index(name) if not isinstance(mdp.state_names, FactoredNames) else \
        next(i for i in range(mdp.n_states) if mdp.state_names[i] == name)


def _outcomes(mdp, state, action):
    k = mdp.pair_index(state, action)
    return {mdp.state_names[n]: p for n, p, _ in mdp.outcomes(k)}


def test_dynamics_match_the_documented_rules():
    p = WorkflowParams(**SMALL)
    mdp = access_review_workflow(p)
    # hazard grows with days and reminders; evidence arrives with the tier's probability
    s = _state(mdp, "high|review|requested|d2|r1|q0|x0")
    out = _outcomes(mdp, s, "wait")
    hazard = p.hazard_base + 2 * p.hazard_per_day + 1 * p.hazard_per_reminder
    assert out["abandoned"] == pytest.approx(hazard)
    arrive = sum(v for k, v in out.items() if "|strong|" in k or "|partial|" in k)
    assert arrive == pytest.approx((1 - hazard) * p.p_evidence[2])
    strong = sum(v for k, v in out.items() if "|strong|" in k)
    assert strong == pytest.approx((1 - hazard) * p.p_evidence[2] * p.p_strong[2])
    # a reminder boosts arrival and adds to the hazard
    out = _outcomes(mdp, s, "send_reminder") if "send_reminder" in [mdp.action_names[a] for a in mdp.actions_of(s)] else None
    assert out is None  # max_reminders = 1 already used
    s0 = _state(mdp, "high|review|requested|d2|r0|q0|x0")
    out = _outcomes(mdp, s0, "send_reminder")
    h1 = p.hazard_base + 2 * p.hazard_per_day + p.hazard_per_reminder
    assert out["abandoned"] == pytest.approx(h1)
    assert sum(v for k, v in out.items() if "|strong|" in k or "|partial|" in k) == pytest.approx(
        (1 - h1) * p.p_evidence[2] * (1 + p.reminder_boost))
    # reviewers decide at rate review_rate (1 + boost x) / (1 + queue)
    s = _state(mdp, "low|review|none|d0|r0|q2|x1")
    out = _outcomes(mdp, s, "human_review")
    assert out["approved"] + out["denied"] == pytest.approx(p.review_rate * (1 + p.escalation_boost) / 3)
    # backlog: birth-death moves
    s = _state(mdp, "low|review|none|d0|r0|q1|x0")
    out = _outcomes(mdp, s, "wait")
    assert out["low|review|none|d1|r0|q2|x0"] == pytest.approx((1 - p.hazard_base) * p.p_arrival * (1 - p.p_service))
    # policy requires review: no auto approval
    assert "auto_approve" not in [mdp.action_names[a] for a in mdp.actions_of(s)]
    # acyclic: the last day expires
    s = _state(mdp, "low|review|none|d3|r0|q1|x0")
    out = _outcomes(mdp, s, "wait")
    assert out["expired"] == pytest.approx(1 - p.hazard_base - 3 * p.hazard_per_day)


def test_defaults_read_as_a_plausible_queue():
    mdp = access_review_workflow(**SMALL)
    res = solve(mdp)
    names = [mdp.state_names[s] for s in range(mdp.n_states)]
    chosen = {mdp.action_names[a] for a in res.policy if a >= 0}
    assert {"auto_approve", "human_review", "request_evidence", "wait"} <= chosen
    auto = mdp.action_index("auto_approve")
    for s, n in enumerate(names):
        if n.startswith("high|") and "|none|" in n:
            assert res.policy[s] != auto, n  # a high-risk request without evidence is never auto-approved
        if n.startswith("low|no-review|strong|"):
            assert res.policy[s] == auto, n  # strong evidence on a low-risk request: approve at once


def test_every_parameter_documented_and_a_cli_option():
    docs = workflow_param_docs()
    assert set(docs) == {f.name for f in fields(WorkflowParams)}
    assert all(len(d) > 10 for _, d in docs.values())
    help_text = runner.invoke(app, ["generate", "--help"], terminal_width=200).output
    for name in docs:
        flag = "--cyclic" if name == "cyclic" else "--" + name.replace("_", "-")
        assert flag in help_text, flag


def test_bad_parameters():
    with pytest.raises(ParameterError, match="max_days"):
        access_review_workflow(max_days=0)
    with pytest.raises(ParameterError, match="p_arrival"):
        access_review_workflow(p_arrival=1.5)
    with pytest.raises(ParameterError, match="expected parameters among"):
        access_review_workflow(nonsense=1)
    with pytest.raises(ParameterError, match="n_successors"):
        rand(5, 2, 6, rng=np.random.default_rng(0))


def test_rand():
    m = rand(300, 4, 10, gamma=0.95, rng=np.random.default_rng(3))
    m2 = rand(300, 4, 10, gamma=0.95, rng=np.random.default_rng(3))
    assert np.array_equal(m.out_next, m2.out_next) and np.array_equal(m.out_prob, m2.out_prob)
    assert np.allclose(pair_sums(m), 1.0)
    nxt = m.out_next.reshape(-1, 10)
    assert (np.diff(nxt, axis=1) > 0).all()  # distinct successors
    assert m.n_pairs == 1200 and not m.terminal.any()
    assert m.state_names[299] == "s299"


def test_factored_names():
    names = FactoredNames((2, 3, 2, 4, 1, 1, 1), ("approved",))  # day first: day is the most significant digit
    assert len(names) == 49 and names[-1] == "approved" and names[0] == "low|no-review|none|d0|r0|q0|x0"
    assert names[1] == "low|no-review|requested|d0|r0|q0|x0" and names[24] == "low|no-review|none|d1|r0|q0|x0"
    assert names[1] and names[2:4] == (names[2], names[3])
    with pytest.raises(IndexError):
        names[49]


def test_spec_and_binary_round_trip(tmp_path):
    mdp = access_review_workflow(cyclic=True, max_days=2, max_reminders=1, queue_capacity=2, max_escalation=0)
    again = compile_spec(spec_from_mdp(mdp))
    assert np.allclose(solve(again).values, solve(mdp).values, atol=1e-10)
    save_binary(mdp, tmp_path / "w.npz")
    back = load_binary(tmp_path / "w.npz")
    assert isinstance(back.state_names, FactoredNames) and back.state_names[5] == mdp.state_names[5]
    assert np.array_equal(back.out_next, mdp.out_next) and back.start == mdp.start
    assert np.array_equal(load_binary(tmp_path / "w.npz", mmap=False).out_prob, mdp.out_prob)


def test_generate_cli(tmp_path):
    out = tmp_path / "w.yaml"
    r = runner.invoke(app, ["generate", str(out), "--max-days", "2", "--queue-capacity", "1", "--max-reminders", "0",
                            "--max-escalation", "0", "--breach-cost", "10,50,900", "--cyclic"])
    assert r.exit_code == 0, r.output
    mdp = load_model(out)
    direct = access_review_workflow(cyclic=True, max_days=2, queue_capacity=1, max_reminders=0, max_escalation=0,
                                    breach_cost=(10.0, 50.0, 900.0))
    assert mdp.n_states == direct.n_states == 52
    assert np.allclose(solve(mdp).values, solve(direct).values, atol=1e-9)
    npz = tmp_path / "w.npz"
    assert runner.invoke(app, ["generate", str(npz), "--states", "3000"]).exit_code == 0
    r = runner.invoke(app, ["solve", str(npz), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["method"] == "topological" and "topological order" in data["note"]
    r = runner.invoke(app, ["generate", str(tmp_path / "r.npz"), "--kind", "rand", "--states", "500", "--seed", "2"])
    assert r.exit_code == 0 and load_model(tmp_path / "r.npz").n_outcomes == 500 * 4 * 10


@pytest.mark.parametrize("args, needle", [
    (["x.txt"], "SPEC-OUT"),
    (["x.npz", "--breach-cost", "1,2"], "--breach-cost"),
    (["x.npz", "--states", "5000", "--max-days", "3"], "--states"),
    (["x.npz", "--kind", "grid"], "--kind"),
    (["x.yaml", "--states", "1000000"], "too many"),
    (["x.npz", "--max-days", "0"], "max_days"),
])
def test_generate_usage_errors(tmp_path, args, needle):
    args = [str(tmp_path / args[0]), *args[1:]]
    r = runner.invoke(app, ["generate", *args])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert ACTIONS[0] == "auto_approve"


@pytest.mark.parametrize("cyclic", [False, True])
def test_streamed_chunks_give_the_same_model(cyclic):
    """The generator writes each chunk into preallocated arrays: any chunk size, same arrays."""
    from accessrl.planning.kernels import order_direction

    kw = dict(max_days=3, max_reminders=1, queue_capacity=3, max_escalation=1, cyclic=cyclic)
    whole = access_review_workflow(chunk=10**6, **kw)
    for chunk in (1, 7, 100):
        part = access_review_workflow(chunk=chunk, **kw)
        for f in ("sa_ptr", "sa_action", "out_ptr", "out_next", "terminal"):
            assert np.array_equal(getattr(part, f), getattr(whole, f)), (chunk, f)
        for f in ("out_prob", "out_reward"):  # NumPy's vector loops round the last bit by array length
            np.testing.assert_allclose(getattr(part, f), getattr(whole, f), rtol=1e-14, atol=0)
    assert whole.out_next.dtype == np.int32 and whole.out_ptr[-1] == whole.out_next.size
    assert order_direction(whole) == (0 if cyclic else 1)  # day first, terminals last: acyclic means ordered
    with pytest.raises(ParameterError):
        access_review_workflow(chunk=0, **kw)
