"""gymnasium adapter: check_env without warnings, masks, penalty outcome, P table,
registered ids, and models read from toy-text environments."""

import warnings

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium", reason='accessrl.envs needs gymnasium: pip install "accessrl[gym]"')
from gymnasium.utils.env_checker import check_env  # noqa: E402

from accessrl.catalog.lesson import access_review, access_review_abandonment  # noqa: E402
from accessrl.envs import MDPEnv, from_gymnasium  # noqa: E402
from accessrl.errors import ModelError  # noqa: E402
from accessrl.model.mdp import MDP  # noqa: E402
from accessrl.planning.exact import policy_iteration  # noqa: E402
from accessrl.simulation import sample_outcome  # noqa: E402

IDS = ["accessrl/AccessReview-v0", "accessrl/AccessReviewAbandonment-v0"]


@pytest.mark.parametrize("model", ["catalog:access-review", "catalog:access-review-abandonment"])
def test_check_env_passes_without_warnings(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(MDPEnv(model))
        check_env(MDPEnv(access_review_abandonment(), render_mode="ansi"))


@pytest.mark.parametrize("env_id", IDS)
def test_registered_ids(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(env_id)
        check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert env.unwrapped.state_names[obs] == "new_request"
    assert info["action_mask"].dtype == np.int8


def test_action_mask_and_penalty_outcome():
    env = MDPEnv(access_review())
    obs, info = env.reset(seed=1)
    mdp = env.mdp
    assert info["action_mask"].tolist() == [1, 1, 1, 0]
    # approve_rotation is not allowed at new_request: stay, penalty, episode goes on
    obs2, reward, terminated, truncated, info2 = env.step(mdp.action_index("approve_rotation"))
    assert (obs2, reward, terminated, truncated) == (obs, -120.0, False, False)
    assert info2["invalid_action"] is True
    assert MDPEnv(access_review(), invalid_action_reward=-7).step(3)[1] == -7.0


def test_episode_and_events():
    env = MDPEnv(access_review_abandonment())
    env.reset(seed=0)
    seen = set()
    for seed in range(40):
        env.reset(seed=seed)
        _, r, done, _, info = env.step(env.mdp.action_index("request_evidence"))
        seen.add((r, done, info["event"]))
    assert seen == {(-4.0, False, ""), (-54.0, True, "abandoned")}


def test_p_table_matches_model():
    env = MDPEnv(access_review_abandonment())
    mdp = env.mdp
    s, a = mdp.state_index("new_request"), mdp.action_index("request_evidence")
    assert env.P[s][a] == [(0.75, 1, -4.0, False), (0.25, 3, -54.0, True)]
    assert env.P[3][0] == [(1.0, 3, 0.0, True)]  # closed is terminal
    # reading P back gives the same optimal values (penalty loops never help)
    back = from_gymnasium(env, gamma=mdp.gamma)
    assert np.allclose(policy_iteration(back).values, policy_iteration(mdp).values)


def test_from_gymnasium_frozenlake():
    mdp = MDP.from_gymnasium(gym.make("FrozenLake-v1"), gamma=0.99)
    assert mdp.n_states == 16 and mdp.action_names == ("left", "down", "right", "up")
    assert [int(s) for s in np.flatnonzero(mdp.terminal)] == [5, 7, 11, 12, 15]  # holes and goal
    res = policy_iteration(mdp)
    # the optimal 4x4 slippery FrozenLake policy at gamma 0.99 (LEFT=0, DOWN=1, RIGHT=2, UP=3),
    # as listed in common FrozenLake value-iteration write-ups
    assert res.policy[[0, 1, 2, 3, 4, 6, 8, 9, 10, 13, 14]].tolist() == [0, 3, 3, 3, 0, 0, 3, 1, 0, 2, 1]
    assert res.values[0] == pytest.approx(0.542, abs=5e-4)


def test_from_gymnasium_cliff_walking():
    mdp = from_gymnasium(gym.make("CliffWalking-v1"))
    assert mdp.start == 36 and mdp.terminal[47] and mdp.terminal.sum() == 1
    # Sutton & Barto Example 6.6: the optimal path along the cliff takes 13 steps of -1
    assert policy_iteration(mdp).values[36] == -13.0


def test_sampling_matches_gymnasium_frozenlake():
    env = gym.make("FrozenLake-v1")
    mdp = from_gymnasium(env, gamma=0.99)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng()
    rng.bit_generator.state = env.unwrapped.np_random.bit_generator.state
    s = obs
    for t in range(30):
        a = t % 4
        obs, _, done, _, _ = env.step(a)
        k = sample_outcome(mdp, mdp.pair_index(s, a), rng)
        assert int(mdp.out_next[k]) == obs
        s = obs
        if done:
            break


def test_from_gymnasium_rejects_envs_without_p():
    with pytest.raises(ModelError, match="no transition table"):
        from_gymnasium(gym.make("CartPole-v1"))
