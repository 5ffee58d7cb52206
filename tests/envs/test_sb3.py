"""Stable-Baselines3 and sb3-contrib over the registered environments: the standard
``make_vec_env`` route, DQN / PPO / MaskablePPO construct and step, gymnasium's
``make_vec`` with the vector entry point, both render modes, and (slow) PPO finding the
optimal first action when given the model's discount."""

import warnings

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium", reason='accessrl.envs needs gymnasium: pip install "accessrl[gym]"')
sb3 = pytest.importorskip("stable_baselines3", reason='needs stable-baselines3: pip install "accessrl[sb3]"')
sb3_contrib = pytest.importorskip("sb3_contrib", reason='needs sb3-contrib: pip install "accessrl[sb3]"')
torch = pytest.importorskip("torch")
from gymnasium.utils.env_checker import check_env  # noqa: E402
from sb3_contrib import MaskablePPO  # noqa: E402
from stable_baselines3 import DQN, PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

import accessrl.envs  # noqa: E402  (registers the ids)
from accessrl.catalog.lesson import access_review_abandonment  # noqa: E402
from accessrl.envs import MDPEnv, MDPVectorEnv, workflow_picture  # noqa: E402
from accessrl.errors import ParameterError  # noqa: E402
from accessrl.planning.exact import policy_iteration  # noqa: E402
from accessrl.simulation import simulate  # noqa: E402

ENV_ID = "accessrl/AccessReviewAbandonment-v0"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_make_vec_env_builds_with_rgb_array():
    venv = make_vec_env(ENV_ID, n_envs=2, seed=0)
    assert venv.render_mode == "rgb_array"
    obs = venv.reset()
    assert obs.shape == (2,) and obs.tolist() == [0, 0]
    frames = venv.get_images()
    assert frames[0].shape == (360, 640, 3) and frames[0].dtype == np.uint8
    masks = venv.env_method("action_masks")
    assert [m.tolist() for m in masks] == [[True, True, True, False]] * 2


def test_sb3_env_checker_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(MDPEnv("catalog:access-review-abandonment"))
        check_env(MDPEnv("catalog:access-review-abandonment", render_mode="rgb_array"))


def test_gamma_is_exposed_where_agents_read_it():
    mdp = access_review_abandonment()
    env = gym.make(ENV_ID)
    assert env.unwrapped.gamma == mdp.gamma == env.unwrapped.metadata["gamma"]
    assert gym.spec(ENV_ID).kwargs["gamma"] == mdp.gamma
    model = PPO("MlpPolicy", make_vec_env(ENV_ID, n_envs=1), gamma=env.unwrapped.gamma, n_steps=16, batch_size=16)
    assert model.gamma == mdp.gamma
    # gamma= replaces the model's discount
    assert gym.make(ENV_ID, gamma=0.5).unwrapped.mdp.gamma == 0.5


@pytest.mark.parametrize("algo", ["DQN", "PPO", "MaskablePPO"])
def test_agents_construct_learn_and_predict(algo):
    venv = make_vec_env(ENV_ID, n_envs=2, seed=1)
    gamma = gym.spec(ENV_ID).kwargs["gamma"]
    if algo == "DQN":
        model = DQN("MlpPolicy", venv, gamma=gamma, learning_starts=16, buffer_size=500, seed=0)
    else:
        cls = PPO if algo == "PPO" else MaskablePPO
        model = cls("MlpPolicy", venv, gamma=gamma, n_steps=32, batch_size=32, n_epochs=1, seed=0)
    model.learn(128)
    kw = {"action_masks": np.array([True, True, True, False])} if algo == "MaskablePPO" else {}
    action, _ = model.predict(np.array(0), deterministic=True, **kw)
    assert 0 <= int(action) < 4
    if algo == "MaskablePPO":
        # a masked-out action is never chosen
        for s in range(3):
            mask = venv.env_method("action_masks")[0]
            a, _ = model.predict(np.array(s), action_masks=mask, deterministic=False)
            assert mask[int(a)]


def test_make_vec_vector_entry_point_matches_single_env_statistics():
    mdp = access_review_abandonment()
    n = 2000
    venv = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point")
    assert isinstance(venv.unwrapped, MDPVectorEnv) and venv.unwrapped.gamma == mdp.gamma
    assert venv.unwrapped.max_episode_steps == 100
    obs, infos = venv.reset(seed=3)
    assert infos["action_mask"].shape == (n, 4)
    # the optimal policy, stepped in all copies until each has finished one episode
    policy = policy_iteration(mdp).policy
    returns = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    for t in range(200):
        obs, r, term, trunc, infos = venv.step(policy[obs])
        returns[~done] += mdp.gamma**t * r[~done]
        done |= term | trunc
        if done.all():
            break
    assert done.all()
    # the reference: accessrl's own simulator (2e4 episodes), discounted mean return
    ref = simulate(mdp, policy, 20_000, rng=np.random.default_rng(0)).returns
    se = np.sqrt(returns.var() / n + ref.var() / ref.size)
    assert abs(returns.mean() - ref.mean()) < 4 * se + 1e-9


def test_vector_env_next_step_autoreset_and_penalty():
    v = MDPVectorEnv(2, "catalog:access-review-abandonment", max_episode_steps=3)
    v.reset(seed=0)
    obs, r, term, trunc, info = v.step([0, 3])  # auto_approve ends; approve_rotation not allowed at start
    assert term.tolist() == [True, False] and info["invalid_action"].tolist() == [False, True]
    assert r[1] == v.single.invalid_action_reward
    obs, r, term, trunc, _ = v.step([1, 3])  # copy 0 resets this step (reward 0)
    assert obs[0] == 0 and r[0] == 0.0 and not term[0]
    _, _, _, trunc, _ = v.step([3, 3])
    assert trunc.tolist() == [False, True]  # copy 1: third step of its episode
    with pytest.raises(ParameterError, match="actions"):
        v.step([0, 9])
    assert v.render() is None
    r = MDPVectorEnv(2, "catalog:access-review-abandonment", render_mode="ansi")
    r.reset(seed=0)
    r.step([1, 2])
    assert r.render() == ("evidence_ready  actions: auto_approve, human_review\n", "review_queue  actions: approve_rotation\n")


def test_rgb_array_highlights_the_current_state():
    env = MDPEnv("catalog:access-review-abandonment", render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    env.step(1)
    second = env.render()
    assert first.shape == second.shape == (360, 640, 3)
    orange = np.array([0xF2, 0x8E, 0x2B])
    assert (np.abs(first.astype(int) - orange).sum(axis=2) < 10).sum() > 500  # the highlighted box
    assert not np.array_equal(first, second)
    with pytest.raises(ParameterError, match="render_mode"):
        MDPEnv("catalog:access-review", render_mode="human")


def test_picture_of_a_big_model_shows_the_neighbourhood():
    from accessrl.catalog import load

    big = load("access-review-workflow")  # 40k states: drawing them all would be noise
    assert big.n_states > accessrl.envs.PICTURE_MAX_STATES
    picture = workflow_picture(big, big.start)
    assert picture.shape == (360, 640, 3) and picture.std() > 0


@pytest.mark.slow
def test_ppo_reaches_the_optimal_start_action():
    mdp = access_review_abandonment()
    best = int(policy_iteration(mdp).policy[mdp.start])
    venv = make_vec_env(ENV_ID, n_envs=4, seed=0)
    model = PPO("MlpPolicy", venv, gamma=venv.get_attr("gamma")[0], n_steps=128, batch_size=64, seed=0)
    model.learn(8_000)
    action, _ = model.predict(np.array(mdp.start), deterministic=True)
    assert int(action) == best, (mdp.action_names[int(action)], mdp.action_names[best])
