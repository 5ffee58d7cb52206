"""What a planner reports is true: max_iter is checked, and a bound is a bound even when stopped early."""

import numpy as np
import pytest

from accessrl.catalog import access_review, access_review_abandonment
from accessrl.catalog.workflows import rand
from accessrl.errors import ParameterError
from accessrl.planning import (
    compiled_modified_policy_iteration,
    gauss_seidel_value_iteration,
    krylov_policy_iteration,
    modified_policy_iteration,
    policy_evaluation,
    policy_iteration,
    value_iteration,
)

SOLVERS = [value_iteration, policy_iteration, modified_policy_iteration, compiled_modified_policy_iteration,
           gauss_seidel_value_iteration, krylov_policy_iteration]


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("max_iter", [0, -1, 2.5, True, "3"])
def test_max_iter_must_be_a_positive_whole_number(solver, max_iter):
    with pytest.raises(ParameterError, match="max_iter: expected a positive whole number"):
        solver(access_review_abandonment(), max_iter=max_iter)


def test_policy_evaluation_max_iter_checked():
    with pytest.raises(ParameterError, match="max_iter"):
        policy_evaluation(access_review(), np.zeros(4, dtype=np.int64) + 1, method="iterative", max_iter=0)


@pytest.fixture(scope="module")
def random_model():
    """A seeded random 2,000-state model (5 actions, 10 successors, gamma 0.9) and its exact V*."""
    mdp = rand(2000, 5, 10, gamma=0.9, rng=np.random.default_rng(2000))
    exact = policy_iteration(mdp)
    assert exact.converged and exact.error_bound == 0.0
    return mdp, exact.values


@pytest.mark.parametrize("k", [1, 2, 3])
def test_policy_iteration_stopped_early_reports_a_true_bound(random_model, k):
    mdp, v_star = random_model
    res = policy_iteration(mdp, max_iter=k)
    true_error = float(np.max(np.abs(res.values - v_star)))
    assert res.iterations == k
    assert not res.converged
    assert true_error > 1e-6  # really unconverged, so the bound is tested on a real error
    assert true_error <= res.error_bound


@pytest.mark.parametrize("k", [1, 2, 5])
def test_other_solvers_stopped_early_report_no_false_bound(random_model, k):
    mdp, v_star = random_model
    for solver in (value_iteration, modified_policy_iteration, compiled_modified_policy_iteration,
                   gauss_seidel_value_iteration, krylov_policy_iteration):
        res = solver(mdp, max_iter=k, tol=1e-12)
        true_error = float(np.max(np.abs(res.values - v_star)))
        assert res.converged or res.iterations == k, solver.__name__  # only max_iter stops it unconverged
        assert np.isnan(res.error_bound) or true_error <= res.error_bound * (1 + 1e-9) + 1e-12, solver.__name__


def test_converged_solvers_say_so(random_model):
    mdp, v_star = random_model
    for solver in SOLVERS:
        res = solver(mdp, tol=1e-6) if solver is not policy_iteration else solver(mdp)
        assert res.converged, solver.__name__
        assert float(np.max(np.abs(res.values - v_star))) <= res.error_bound + 1e-9, solver.__name__
