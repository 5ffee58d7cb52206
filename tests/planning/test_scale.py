"""Solvers that scale: compiled kernels vs readable code, SCCs, topological VI, agreement and error bounds."""

import json

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from typer.testing import CliRunner

from accessrl.catalog import CATALOG
from accessrl.catalog.lesson import access_review_spec
from accessrl.catalog.workflows import access_review_workflow, rand
from accessrl.cli import app
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec
from accessrl.planning.exact import policy_evaluation, policy_iteration, q_values, state_max
from accessrl.planning.kernels import (
    bellman_sweep,
    gauss_seidel_sweep,
    greedy_pairs,
    order_direction,
    pair_rewards,
    pair_values,
    policy_sweep,
    strong_components,
    sweep_bytes,
)
from accessrl.planning.results import TIE_RTOL
from accessrl.planning.scalable import topological_value_iteration
from accessrl.planning.solver import SOLVERS, choose_method, solve
from gridworlds import random_sparse

runner = CliRunner()
SMALL = dict(max_days=4, max_reminders=1, queue_capacity=3, max_escalation=1)
ALL = list(SOLVERS)


def reference(mdp):
    """V* by policy iteration, polished by an exact (sparse LU) evaluation of its policy."""
    return policy_evaluation(mdp, policy_iteration(mdp).policy).values


def models():
    yield "access-review", CATALOG["access-review"]()
    yield "access-review-abandonment", CATALOG["access-review-abandonment"]()
    yield "workflow", access_review_workflow(**SMALL)
    yield "workflow-cyclic", access_review_workflow(cyclic=True, **SMALL)
    yield "workflow-cyclic-g0.9", access_review_workflow(cyclic=True, gamma=0.9, **SMALL)
    for seed, gamma in ((0, 0.5), (1, 0.9), (2, 0.99)):
        yield f"rand-{gamma}", rand(300, 4, 6, gamma=gamma, rng=np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        yield f"random-sparse-{gamma}", random_sparse(rng, S=40, A=3, k=4, gamma=gamma)


MODELS = list(models())


@pytest.mark.parametrize("name, mdp", MODELS, ids=[m[0] for m in MODELS])
def test_all_methods_agree(name, mdp):
    ref = reference(mdp)
    for method in [*ALL, "auto"]:
        res = solve(mdp, method, tol=1e-10)
        assert np.max(np.abs(res.values - ref)) <= 1e-8, method
        assert res.q_values.shape == (mdp.n_pairs,)
        # the policy is greedy for the values (ties within rounding allowed)
        q = q_values(mdp, ref)
        best, _ = state_max(mdp, q)
        chosen = res.policy >= 0
        pairs = [mdp.pair_index(int(s), int(res.policy[s])) for s in np.flatnonzero(chosen)]
        assert np.allclose(q[pairs], best[chosen], atol=1e-7), method


@pytest.mark.parametrize("tol", [1e-2, 1e-4, 1e-6])
@pytest.mark.parametrize("name, mdp", [m for m in MODELS if m[0] in ("workflow-cyclic", "rand-0.9", "rand-0.99")],
                         ids=lambda x: x if isinstance(x, str) else "")
def test_error_bounds_hold(name, mdp, tol):
    ref = reference(mdp)
    for method in ALL:
        res = solve(mdp, method, tol=tol)
        err = np.max(np.abs(res.values - ref))
        assert err <= tol, (method, err)
        if method not in ("policy-iteration",):
            assert res.error_bound <= tol and err <= res.error_bound + 1e-12, (method, err, res.error_bound)


def test_acyclic_is_exact_in_one_pass():
    mdp = access_review_workflow(**SMALL)
    res = topological_value_iteration(mdp, tol=1e-2)
    assert res.error_bound == 0.0 and res.extra["cyclic_components"] == 0 and res.extra["sweeps"] == 0
    assert np.max(np.abs(res.values - reference(mdp))) <= 1e-10


def test_self_loops_solved_exactly():
    # one state with a self-loop: V = max(r_stay / (1 - gamma p), r_go) = max(1 / (1 - 0.9 * 0.5), 1.5)
    spec = {"gamma": 0.9, "terminal": ["end"], "transitions": {"s": {
        "stay": [{"next": "s", "p": 0.5, "reward": 1}, {"next": "end", "p": 0.5, "reward": 1}],
        "go": {"next": "end", "reward": 1.5}}}}
    res = topological_value_iteration(compile_spec(spec))
    assert res.values[0] == pytest.approx(1 / (1 - 0.45), abs=1e-14) and res.error_bound == 0.0


def test_gamma_one_topological():
    mdp = access_review_workflow(gamma=1.0, **SMALL)
    res = topological_value_iteration(mdp)
    assert res.error_bound == 0.0
    assert np.max(np.abs(res.values - reference(mdp))) <= 1e-9
    cyc = access_review_workflow(cyclic=True, gamma=1.0, max_days=2, max_reminders=0, queue_capacity=2, max_escalation=0)
    res = topological_value_iteration(cyc, tol=1e-9)
    assert np.max(np.abs(res.values - reference(cyc))) <= 1e-8


@pytest.mark.parametrize("name, mdp", MODELS[2:6], ids=[m[0] for m in MODELS[2:6]])
def test_strong_components_match_scipy_and_are_ordered(name, mdp):
    comp, order, ptr = strong_components(mdp)
    src = np.repeat(mdp.sa_state, np.diff(mdp.out_ptr))
    graph = sp.csr_matrix((np.ones(src.size), (src, mdp.out_next)), shape=(mdp.n_states,) * 2)
    n, labels = connected_components(graph, directed=True, connection="strong")
    assert ptr.size - 1 == n
    # same partition: each of our components maps to exactly one scipy label and back
    pairs = set(zip(comp.tolist(), labels.tolist(), strict=True))
    assert len(pairs) == n
    assert (comp[mdp.out_next] <= comp[src]).all()  # edges lead to components solved earlier
    assert np.array_equal(np.sort(order), np.arange(mdp.n_states))
    assert (comp[order] == np.repeat(np.arange(n), np.diff(ptr))).all()


def test_kernels_match_readable_code():
    mdp = access_review_workflow(cyclic=True, **SMALL)
    v = np.random.default_rng(0).normal(size=mdp.n_states)
    v[mdp.terminal] = 0.0
    r = pair_rewards(mdp)
    assert np.allclose(r, mdp.expected_reward, atol=1e-12)
    q = q_values(mdp, v)
    assert np.allclose(pair_values(mdp, r, v), q, atol=1e-12)
    u = np.empty_like(v)
    best = np.empty(mdp.n_states, dtype=np.int64)
    hi, lo, sup = bellman_sweep(mdp, r, v, u, best)
    tv, first = state_max(mdp, q)
    assert np.allclose(u, tv, atol=1e-12) and np.array_equal(best, first)
    assert hi == pytest.approx(np.max(tv - v)) and lo == pytest.approx(np.min(tv - v))
    assert sup == pytest.approx(np.max(np.abs(tv - v)))
    qq, tied = greedy_pairs(mdp, r, v, TIE_RTOL)
    assert np.array_equal(tied, state_max(mdp, q, tie_rtol=TIE_RTOL)[1])
    # policy sweep = r_sigma + gamma P_sigma v
    w = np.empty_like(v)
    policy_sweep(mdp, r, best, v, w)
    ok = best >= 0
    assert np.allclose(w[ok], q[best[ok]]) and (w[~ok] == 0).all()
    # Gauss-Seidel: each state uses the newest values, in order
    order = np.arange(mdp.n_states)[::-1].copy()
    g = v.copy()
    gauss_seidel_sweep(mdp, r, order, g, best)
    ref = v.copy()
    for s in order:
        lo_, hi_ = mdp.sa_ptr[s], mdp.sa_ptr[s + 1]
        if hi_ > lo_:
            ref[s] = max(r[k] + mdp.gamma * sum(p * ref[n] for n, p, _ in mdp.outcomes(k)) for k in range(lo_, hi_))
    assert np.allclose(g, ref, atol=1e-12)
    assert sweep_bytes(mdp) > mdp.out_next.nbytes + mdp.out_prob.nbytes


def test_auto_says_what_and_why():
    small = CATALOG["access-review"]()
    assert choose_method(small).method == "policy-iteration"
    big_acyclic = access_review_workflow(max_days=6, max_reminders=1, queue_capacity=4, max_escalation=1)
    assert big_acyclic.n_states > 200
    choice = choose_method(big_acyclic)  # the generator numbers states day first, terminals last
    assert choice.method == "topological" and "topological order" in choice.why and choice.direction == 1
    res = solve(big_acyclic)
    assert "checked the order as it went" in res.note and res.extra["order_checked_in_pass"]
    scrambled = relabel(big_acyclic, np.random.default_rng(1).permutation(big_acyclic.n_states))
    choice = choose_method(scrambled)
    assert choice.method == "topological" and "acyclic" in choice.why and choice.components is not None
    res = solve(scrambled)
    assert res.note == choice.why and "ordered_pass" not in res.extra
    cyclic = access_review_workflow(cyclic=True, max_days=6, max_reminders=1, queue_capacity=4, max_escalation=1)
    choice = choose_method(cyclic)
    assert choice.method == "topological" and "Gauss-Seidel" in choice.why
    r = rand(500, 2, 5, gamma=0.9, rng=np.random.default_rng(0))
    choice = choose_method(r)
    assert choice.method == "compiled-mpi" and "no terminal states" in choice.why and choice.solver_arguments() == {}
    res = solve(r)
    assert res.method == "compiled-mpi" and res.note == choice.why and res.error_bound <= 1e-6


def test_progress_is_reported():
    seen = []
    solve(rand(500, 2, 5, gamma=0.9, rng=np.random.default_rng(0)), progress=lambda f, m: seen.append((f, m)))
    assert seen and all(np.isnan(f) or 0.0 <= f <= 1.0 for f, _ in seen) and seen[-1][0] == 1.0
    seen.clear()
    solve(access_review_workflow(max_days=6, max_reminders=1, queue_capacity=4, max_escalation=1),
          progress=lambda f, m: seen.append((f, m)))
    assert seen[-1][0] == 1.0 and "ordered pass" in seen[-1][1]


def test_cli_methods_and_json(tmp_path):
    for method in ("topological", "compiled-mpi", "krylov-mpi", "gauss-seidel", "krylov-policy-iteration"):
        r = runner.invoke(app, ["solve", "catalog:access-review-abandonment", "--method", method, "--json"])
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["method"] == method and out["values"]["new_request"] == pytest.approx(54.0)
    r = runner.invoke(app, ["solve", "catalog:access-review-workflow"])
    assert r.exit_code == 0 and "topological" in r.output and "policy by action" in r.output  # a summary, not rows


def test_default_value_iteration_stays_synchronous():
    # the lesson prints Jacobi sweeps: value_iteration must not switch to Gauss-Seidel
    res = solve(compile_spec(access_review_spec()), "value-iteration")
    assert res.iterations == 3 and res.method == "value-iteration"


# ordered fast path (states already in topological order)
def relabel(mdp, new_of_old):
    """The same model with state s renamed new_of_old[s] (pairs and outcomes keep their order)."""
    new_of_old = np.asarray(new_of_old, dtype=np.int64)
    old_of_new = np.argsort(new_of_old)
    counts = np.diff(mdp.sa_ptr)[old_of_new]
    pairs = np.concatenate([np.arange(mdp.sa_ptr[s], mdp.sa_ptr[s + 1]) for s in old_of_new]).astype(np.int64)
    per_pair = np.diff(mdp.out_ptr)[pairs]
    outs = np.concatenate([np.arange(mdp.out_ptr[k], mdp.out_ptr[k + 1]) for k in pairs]).astype(np.int64)
    return MDP(gamma=mdp.gamma, state_names=tuple(mdp.state_names[int(s)] for s in old_of_new),
               action_names=mdp.action_names, terminal=mdp.terminal[old_of_new],
               sa_ptr=np.concatenate(([0], np.cumsum(counts))).astype(np.int64), sa_action=mdp.sa_action[pairs],
               out_ptr=np.concatenate(([0], np.cumsum(per_pair))).astype(np.int64),
               out_next=new_of_old[mdp.out_next[outs]], out_prob=mdp.out_prob[outs],
               out_reward=mdp.out_reward[outs], name=mdp.name)


def random_dag(rng, n=400, n_terminal=5, A=3, k=4, gamma=0.95, backward_edge=False):
    """Successors at larger indices (plus self-loops and ties between duplicated actions)."""
    sa_count, sa_action, per_pair, nxt, prob, rew = [], [], [], [], [], []
    n_inner = n - n_terminal
    for s in range(n_inner):
        acts = np.sort(rng.choice(A, size=rng.integers(1, A + 1), replace=False))
        sa_count.append(acts.size)
        first = None
        for a in acts:
            if first is not None and rng.random() < 0.2:  # an exact duplicate: a tie to break
                t, p, r = first
            else:
                t = np.unique(rng.integers(s + 1, n, size=k))
                if rng.random() < 0.3:
                    t = np.unique(np.append(t, s))  # self-loop
                p = rng.dirichlet(np.ones(t.size))
                r = rng.normal(size=t.size)
                first = (t, p, r)
            sa_action.append(a)
            per_pair.append(t.size)
            nxt.extend(t)
            prob.extend(p)
            rew.extend(r)
    sa_count.extend([0] * n_terminal)
    nxt = np.asarray(nxt, dtype=np.int64)
    if backward_edge:
        j = int(np.sum(per_pair[: int(np.sum(sa_count[: n_inner - 1]))]))  # the last state's first outcome
        nxt[j] = 50
    terminal = np.zeros(n, dtype=bool)
    terminal[n_inner:] = True
    return MDP(gamma=gamma, state_names=tuple(f"s{i}" for i in range(n)), action_names=("a", "b", "c"),
               terminal=terminal, sa_ptr=np.concatenate(([0], np.cumsum(sa_count))).astype(np.int64),
               sa_action=np.asarray(sa_action, dtype=np.int64),
               out_ptr=np.concatenate(([0], np.cumsum(per_pair))).astype(np.int64), out_next=nxt,
               out_prob=np.asarray(prob), out_reward=np.asarray(rew), name="random-dag")


def same_as_slow_paths(mdp, direction):
    assert order_direction(mdp) == direction
    fast = topological_value_iteration(mdp)
    assert fast.extra["ordered_pass"] == ("descending" if direction > 0 else "ascending")
    slow = topological_value_iteration(mdp, scc=strong_components(mdp))  # Tarjan + component kernel
    assert "ordered_pass" not in slow.extra
    np.testing.assert_allclose(fast.values, slow.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.q_values, slow.q_values, rtol=0, atol=1e-12)
    assert np.array_equal(fast.policy, slow.policy) and fast.error_bound == 0.0
    # the readable code: exact policy iteration and state_max's tie rule over q_values
    np.testing.assert_allclose(fast.values, reference(mdp), rtol=0, atol=1e-9)
    q = q_values(mdp, fast.values)
    np.testing.assert_allclose(fast.q_values, q, rtol=0, atol=1e-12)
    _, bp = state_max(mdp, q, tie_rtol=TIE_RTOL)
    assert np.array_equal(fast.policy, np.where(bp >= 0, mdp.sa_action[np.maximum(bp, 0)], -1))


@pytest.mark.parametrize("name", ["access-review", "access-review-abandonment", "access-review-components",
                                  "access-review-deny"])
def test_ordered_pass_on_catalog_models(name):
    mdp = CATALOG[name]()
    same_as_slow_paths(mdp, 1)
    same_as_slow_paths(relabel(mdp, mdp.n_states - 1 - np.arange(mdp.n_states)), -1)  # mirrored order


def test_ordered_pass_on_workflows_in_scc_order():
    generated = access_review_workflow(**SMALL)
    assert order_direction(generated) == 1  # numbered day first, terminals last
    mdp = relabel(generated, np.random.default_rng(2).permutation(generated.n_states))
    assert order_direction(mdp) == 0
    comp = strong_components(mdp)[0]  # sinks first: every edge goes to a smaller component number
    n = mdp.n_states
    down, up = relabel(mdp, n - 1 - comp), relabel(mdp, comp)
    same_as_slow_paths(down, 1)
    same_as_slow_paths(up, -1)
    ref = topological_value_iteration(mdp)
    np.testing.assert_allclose(topological_value_iteration(down).values[n - 1 - comp],
                               ref.values, rtol=0, atol=1e-9)
    choice = choose_method(down)
    assert choice.method == "topological" and "topological order" in choice.why and "no SCC pass" in choice.why
    assert choice.direction == 1 and choice.solver_arguments() == {"scc": 1}
    res = solve(up)
    assert res.note.startswith("states in topological order") and res.extra["ordered_pass"] == "ascending"


def test_ordered_pass_on_a_random_dag():
    rng = np.random.default_rng(7)
    for gamma in (0.9, 1.0):
        mdp = random_dag(rng, gamma=gamma)
        same_as_slow_paths(mdp, 1)
        same_as_slow_paths(relabel(mdp, mdp.n_states - 1 - np.arange(mdp.n_states)), -1)


def test_order_check_rejects_cycles_and_backward_edges():
    assert order_direction(access_review_workflow(cyclic=True, **SMALL)) == 0
    two_cycle = MDP(gamma=0.9, state_names=("a", "b", "end"), action_names=("go",),
                    terminal=np.array([False, False, True]), sa_ptr=np.array([0, 1, 2, 2]),
                    sa_action=np.array([0, 0]), out_ptr=np.array([0, 2, 3]), out_next=np.array([1, 2, 0]),
                    out_prob=np.array([0.5, 0.5, 1.0]), out_reward=np.array([1.0, 0.0, 2.0]))
    assert order_direction(two_cycle) == 0
    res = topological_value_iteration(two_cycle)
    assert "ordered_pass" not in res.extra
    np.testing.assert_allclose(res.values, reference(two_cycle), atol=1e-6)
    back = random_dag(np.random.default_rng(3), backward_edge=True)
    assert order_direction(back) == 0
    res = solve(back)
    assert "topological order" not in res.note and "ordered_pass" not in res.extra
    np.testing.assert_allclose(res.values, reference(back), atol=1e-6)


def test_cli_threads(tmp_path, monkeypatch):
    from accessrl.planning import kernels
    from cli_checks import one_error_line

    r = runner.invoke(app, ["solve", "catalog:access-review-abandonment", "--threads", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["threads"] == 1  # 4 states: below PARALLEL_MIN_NNZ, one thread whatever is asked
    monkeypatch.setattr(kernels, "PARALLEL_MIN_NNZ", 0)
    model = tmp_path / "r.npz"
    from accessrl.specfile import save_binary

    save_binary(rand(300, 2, 4, gamma=0.9, rng=np.random.default_rng(1)), model)
    for flag, want in (("2", 2), ("1", 1)):
        r = runner.invoke(app, ["solve", str(model), "--method", "compiled-mpi", "--threads", flag, "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["threads"] == want
    r = runner.invoke(app, ["solve", str(model), "--threads", "auto"])
    assert r.exit_code == 0 and "thread" in r.output
    one_error_line(runner.invoke(app, ["solve", str(model), "--threads", "none"]), "--threads", code=2)


def test_pair_rewards_are_cached_read_only_and_the_ordered_pass_fills_the_cache():
    from dataclasses import replace

    from accessrl.planning.kernels import ordered_pass

    mdp = access_review_workflow(max_days=4, max_reminders=1, queue_capacity=3, max_escalation=1)
    r = pair_rewards(mdp)
    assert pair_rewards(mdp) is r and not r.flags.writeable
    cold = replace(mdp)  # same arrays, a new model: nothing cached
    warm_out = ordered_pass(mdp, 1, TIE_RTOL, check=True)  # reads the cached r
    cold_out = ordered_pass(cold, 1, TIE_RTOL, check=True)  # sums r itself and caches it
    assert np.array_equal(pair_rewards(cold), r)  # the same sums in the same order
    for a, b in zip(warm_out, cold_out, strict=True):
        assert np.array_equal(a, b)
