# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The access-review lesson, as a notebook
#
# Each lab of the lesson, computed by accessrl's general code (the same lines `accessrl lesson LAB`
# prints), then the coding exercises: write each function, run its cell, and read the feedback.
# `check(...)` runs your function in a separate process on the lesson's models and on workflows it
# has never shown you, and names the first wrong sweep, state or action with a hint. A pass counts
# in the lesson's progress (the studio's progress page shows it).
#
# Keep this file as text: it is in jupytext's percent format (`jupytext --to notebook lesson.py`
# makes an .ipynb; with jupytext installed, Jupyter opens the .py directly).

# %% tags=["parameters"]
SOLVE = False  # the tests set this to True to fill in the worked solutions; leave it False

# %%
from accessrl.exercises import check, solution
from accessrl.lesson import run_lab

# %% [markdown]
# ## Lab: returns

# %%
print("\n".join(run_lab("returns")))

# %% [markdown]
# ### Exercise discounted-return: Discounted return
#
# Write `discounted_return` below (G = r0 + gamma r1 + gamma^2 r2 + ... for a list of rewards), then run the cell.

# %%
def discounted_return(rewards, gamma):
    """The discounted return of a route: G = r_0 + gamma r_1 + gamma^2 r_2 + ...

    rewards: a list of numbers, the reward of each step in order (it may be empty: return 0).
    gamma:   the discount factor, 0 < gamma <= 1.
    Returns one float.  The first reward counts in full; the reward k steps later is
    multiplied by gamma ** k.

    >>> discounted_return([-4, 70], 0.9)     # request_evidence, then approval: -4 + 0.9 * 70
    59.0
    """
    raise NotImplementedError("write discounted_return: sum gamma ** step * reward over the steps")


if SOLVE:
    exec(solution("discounted-return"))
report = check("discounted-return", discounted_return)

# %% [markdown]
# ## Lab: bellman-backup

# %%
print("\n".join(run_lab("bellman-backup")))

# %% [markdown]
# ### Exercise q-value: One Bellman backup: Q(s, a)
#
# Write `q_value` below (the expected reward plus the discounted value of the next state), then run the cell.

# %%
def q_value(state, action, values, transitions, gamma):
    """Q(state, action): the expected reward plus the discounted value of where the action leads.

    Q(s, a) = sum over outcomes (p, next_state, reward) of  p * (reward + gamma * values[next_state])

    state, action: names (strings).
    values:      dict state -> current value estimate V (terminal states hold 0).
    transitions: dict (state, action) -> list of outcomes (probability, next_state, reward),
                 as in the lesson, e.g. transitions[("new_request", "request_evidence")] ==
                 [(0.75, "evidence_ready", -4), (0.25, "closed", -54)].
    gamma:       the discount factor.
    Returns one float.

    >>> t = {("new_request", "request_evidence"): [(0.75, "evidence_ready", -4), (0.25, "closed", -54)]}
    >>> q_value("new_request", "request_evidence", {"evidence_ready": 70.0, "closed": 0.0}, t, 0.9)
    30.75
    """
    raise NotImplementedError("write q_value: sum p * (reward + gamma * values[next_state]) over the outcomes")


if SOLVE:
    exec(solution("q-value"))
report = check("q-value", q_value)

# %% [markdown]
# ### Exercise greedy-action: The greedy action
#
# Write `greedy_action` below (the action with the largest backed-up value, first among ties), then run the cell.

# %%
def greedy_action(state, actions, values, transitions, gamma):
    """The action of ``state`` with the largest Q(state, action) = sum p * (reward + gamma * values[next]).

    actions:     dict state -> list of the actions available in that state, in declared order
                 (terminal states have no entry; ``state`` here always has one).
    values, transitions, gamma: as in the q-value exercise.
    Returns the action's name.  Only the state's own actions count, even when all of them are
    worth less than 0; among equal values the first in actions[state] wins (as Python's max does).

    >>> t = {("s", "a"): [(1.0, "end", -5)], ("s", "b"): [(1.0, "end", -2)]}
    >>> greedy_action("s", {"s": ["a", "b"]}, {"s": 0.0, "end": 0.0}, t, 0.9)
    'b'
    """
    raise NotImplementedError("write greedy_action: the action with the largest backed-up value")


if SOLVE:
    exec(solution("greedy-action"))
report = check("greedy-action", greedy_action)

# %% [markdown]
# ## Lab: value-iteration

# %%
print("\n".join(run_lab("value-iteration")))

# %% [markdown]
# ### Exercise value-iteration: Value iteration, sweep by sweep
#
# Write `value_iteration` below (synchronous sweeps from zero: values after every sweep and the greedy policy), then run the cell.

# %%
def value_iteration(states, actions, transitions, gamma, sweeps):
    """Synchronous value iteration from V_0 = 0, for ``sweeps`` sweeps, and the greedy policy.

    states:      list of every state name (terminal ones included).
    actions:     dict state -> list of its actions; a state without an entry is terminal (value 0).
    transitions: dict (state, action) -> list of (probability, next_state, reward).
    gamma:       the discount factor.  sweeps: how many sweeps to run.

    One sweep computes, for every state with actions,
        V_{k+1}(s) = max over a in actions[s] of  sum p * (reward + gamma * V_k(next_state))
    from the PREVIOUS sweep's values V_k only (copy the values first, as the lesson does);
    terminal states stay 0.

    Returns (history, policy):
      history: a list of ``sweeps`` dicts, history[k] = the values of every state after sweep k + 1;
      policy:  dict state -> the greedy action for the final values, for the states with actions
               (the first action among equal values wins, as Python's max does).

    The lesson's model prints, sweep by sweep (new_request, evidence_ready, review_queue):
    sweep 1: -4, 70, 80;  sweep 2: 59, 70, 80;  sweep 3: 59, 70, 80.
    """
    raise NotImplementedError("write value_iteration: start from values = {state: 0.0 ...} and sweep")


if SOLVE:
    exec(solution("value-iteration"))
report = check("value-iteration", value_iteration)

# %% [markdown]
# ### Exercise policy-evaluation: Policy evaluation
#
# Write `policy_evaluation` below (what a fixed policy is worth, sweep by sweep), then run the cell.

# %%
def policy_evaluation(policy, states, transitions, gamma, sweeps):
    """Iterative policy evaluation from V_0 = 0 for ``sweeps`` synchronous sweeps.

    policy:      dict state -> the action the policy takes there (only states with actions;
                 a state not in the policy is terminal and stays 0).
    states, transitions, gamma: as in value iteration.

    One sweep computes, for every state of the policy,
        V_{k+1}(s) = sum p * (reward + gamma * V_k(next_state))   over the outcomes of policy[s]
    from the previous sweep's values only (no max: the policy chooses the action).

    Returns history: a list of ``sweeps`` dicts, history[k] = the values of every state after
    sweep k + 1.  For the lesson's model and the policy that always reviews
    (new_request: human_review, evidence_ready: auto_approve, review_queue: approve_rotation)
    sweep 1 gives new_request -18, evidence_ready 70, review_queue 80; sweep 2 gives new_request 54.
    """
    raise NotImplementedError("write policy_evaluation: like value iteration, with policy[s] instead of the max")


if SOLVE:
    exec(solution("policy-evaluation"))
report = check("policy-evaluation", policy_evaluation)

# %% [markdown]
# ### Exercise policy-improvement: Policy improvement
#
# Write `policy_improvement` below (the greedy policy for given values), then run the cell.

# %%
def policy_improvement(values, states, actions, transitions, gamma):
    """The policy that is greedy with respect to ``values``.

    values:  dict state -> value (terminal states hold 0).
    states, actions, transitions, gamma: as in value iteration.
    Returns dict state -> action for every state that has actions (terminal states get no
    entry): the action with the largest sum p * (reward + gamma * values[next_state]); among
    equal values the first in actions[state] wins, as Python's max does.

    Policy iteration alternates policy_evaluation and policy_improvement until the policy stops
    changing.  With the lesson's optimal values (new_request 59, evidence_ready 70,
    review_queue 80, closed 0) the policy is request_evidence, auto_approve, approve_rotation.
    """
    raise NotImplementedError("write policy_improvement: one backup per action, keep the best")


if SOLVE:
    exec(solution("policy-improvement"))
report = check("policy-improvement", policy_improvement)

# %% [markdown]
# ## Lab: abandonment

# %%
print("\n".join(run_lab("abandonment")))

# %% [markdown]
# ### Exercise abandonment-breakeven: Abandonment: the breakeven probability
#
# Write `breakeven_probability` below (the abandonment probability at which human_review overtakes request_evidence), then run the cell.

# %%
def breakeven_probability(transitions, values, gamma):
    """The abandonment probability p at which both first actions have the same expected return.

    transitions: dict action -> list of (probability, next_state, reward), as in the lesson's
                 stochastic-backup listing, with two actions:
                 "request_evidence": [(1 - p, next_ok, r_ok), (p, next_abandon, r_abandon)]
                 (the LAST outcome is the abandonment; ignore the probabilities written there:
                 they are today's rate, and p is the unknown), and
                 "human_review": its outcomes (their probabilities are fixed).
    values:      dict state -> value of the next states (terminal states hold 0).
    gamma:       the discount factor.

    An outcome is worth reward + gamma * values[next_state].  request_evidence is worth
    (1 - p) * ok + p * abandon, a straight line in p; return the p in [0, 1] where it equals
    human_review's expected value, or None when one action is better for every p in [0, 1].

    The lesson's numbers give (1 - p)(-4 + 0.9 * 70) + p(-54) = -18 + 0.9 * 80, so p = 5/113.
    """
    raise NotImplementedError("write breakeven_probability: solve (1 - p) * ok + p * abandon = review for p")


if SOLVE:
    exec(solution("abandonment-breakeven"))
report = check("abandonment-breakeven", breakeven_probability)

# %% [markdown]
# ## Lab: monte-carlo

# %%
print("\n".join(run_lab("monte-carlo")))

# %% [markdown]
# ## Lab: q-learning

# %%
print("\n".join(run_lab("q-learning")))

# %% [markdown]
# ### Exercise q-learning-update: The Q-learning update
#
# Write `q_learning_update` below (one update towards reward + gamma max Q(next), replayed on recorded experiences), then run the cell.

# %%
def q_learning_update(q, state, action, reward, next_state, gamma, learning_rate):
    """Move Q(state, action) towards reward + gamma * max_a Q(next_state, a).  Updates ``q`` in place.

    q:          dict state -> dict action -> value, for the states that have actions.  A next
                state WITHOUT an entry in q is terminal: its future value is 0 (terminal states
                may have other names than "closed").
    state, action, reward, next_state: one observed transition.
    gamma:      the discount factor.  learning_rate: the step size alpha for this update.

        target = reward + gamma * max(q[next_state].values())    (reward alone at a terminal)
        q[state][action] += learning_rate * (target - q[state][action])

    Returns nothing; the grader reads q after each call.
    """
    raise NotImplementedError("write q_learning_update: compute the target, then move q[state][action] towards it")


if SOLVE:
    exec(solution("q-learning-update"))
report = check("q-learning-update", q_learning_update)

# %% [markdown]
# ### Exercise q-learning: Q-learning with epsilon-greedy exploration
#
# Write `q_learning` below (the lesson's episode loop with the visit-count learning rate), then run the cell.

# %%
def q_learning(actions, step, start, episodes, gamma, epsilon, rng):
    """Learn Q from ``episodes`` episodes of epsilon-greedy play; return the table q.

    actions:  dict state -> list of available actions; a state without an entry is terminal.
    step:     the environment: step(state, action) -> (next_state, reward).  It samples outcomes
              itself; call it once per decision.
    start:    the state every episode starts in; an episode ends at a terminal state.
    episodes: how many episodes to run.  gamma: the discount factor.
    epsilon:  the exploration probability.
    rng:      a numpy Generator: draw every random number from it (rng.random(), rng.choice(...)).

    As in the lesson:
      q[s][a] = 0.0 and visits[s][a] = 0 for every state with actions and each of its actions;
      in state s: with probability epsilon (rng.random() < epsilon) explore,
        action = rng.choice(actions[s]); otherwise action = max(actions[s], key=lambda a: q[s][a]);
      next_state, reward = step(s, action);
      target = reward + gamma * max(q[next_state].values()), or reward alone if next_state is terminal;
      visits[s][action] += 1; learning_rate = visits[s][action] ** -0.6;
      q[s][action] += learning_rate * (target - q[s][action]).
    Returns q (dict state -> dict action -> value).
    """
    raise NotImplementedError("write q_learning: the lesson's loop, with the terminal test 'next_state not in actions'")


if SOLVE:
    exec(solution("q-learning"))
report = check("q-learning", q_learning)

# %% [markdown]
# ## Lab: exploration

# %%
print("\n".join(run_lab("exploration")))

# %% [markdown]
# ## Lab: reward-design

# %%
print("\n".join(run_lab("reward-design")))

# %% [markdown]
# ### Exercise reward-design: A reward no shortcut can win
#
# Write `reward` below (a reward over the outcome's components that makes no shortcut pay), then run the cell.

# %%
def reward(components):
    """The reward of one outcome, from its components (a dict name -> number):

    user_outcome      value of what the requester receives: +90 access granted, -48 abandoned, 0 denied or pending
    policy_violation  1 when a decision skips the review or strong evidence that policy P-7 requires
    abuse_risk        1 when the access granted goes to a request that should be refused
    unfair_denial     1 when a legitimate request is denied
    delay_days        days the requester waits during this step
    reviewer_minutes  minutes of human reviewer time this step uses
    resolved          1 when the step closes the request with a decision (approval or denial)

    Return one number.  It passes when the policy that is optimal under your reward makes no
    policy violation, denies no legitimate request, and takes no shortcut the audit flags, on the
    deny_request workflow and on variants with other probabilities.  The lesson's speed_only score
    (100 * resolved - 10 * delay_days) fails: it approves without review.
    """
    return 100 * components["resolved"] - 10 * components["delay_days"]  # speed_only: replace it


if SOLVE:
    exec(solution("reward-design"))
report = check("reward-design", reward)

# %% [markdown]
# ## Lab: policy-gradient

# %%
print("\n".join(run_lab("policy-gradient")))

# %% [markdown]
# ### Exercise reinforce: REINFORCE with a baseline
#
# Write `reinforce_step` below (one policy-gradient step on a batch, the batch mean as baseline), then run the cell.

# %%
import numpy as np


def reinforce_step(logits, actions, returns, learning_rate):
    """New logits after one gradient-ascent step of REINFORCE for a softmax policy over actions.

    logits:  one number per action (a list or an array), the policy is softmax(logits).
    actions: the sampled action of each episode in the batch (indices into logits; repeats allowed).
    returns: the return of each episode (same length as actions).
    learning_rate: the step size.

        probabilities = softmax(logits)     (subtract the largest logit before exp, as the lesson does)
        baseline      = mean(returns);  advantage_i = returns_i - baseline
        score_i       = one_hot(actions_i) - probabilities
        gradient      = mean over the batch of score_i * advantage_i
        return logits + learning_rate * gradient

    The lesson's batch (logits 0, 0, 0; actions 0, 1, 2; returns -120, 30.75, 54; step 0.03)
    moves the probabilities from 1/3 each to 0.089, 0.403, 0.508.
    """
    raise NotImplementedError("write reinforce_step: the lesson's listing, with the sampled actions' one-hot rows")


if SOLVE:
    exec(solution("reinforce"))
report = check("reinforce", reinforce_step)

# %% [markdown]
# ## Lab: held-out

# %%
print("\n".join(run_lab("held-out")))

# %% [markdown]
# ### Exercise time-split: Held-out evaluation: a time split without leakage
#
# Write `time_split` below (train, validation and test by decision time, with no future outcome or repeat requester leaking back), then run the cell.

# %%
def time_split(episodes, valid_start, test_start):
    """Split a decision log into (train, valid, test) lists of episode ids.

    episodes: a list of dicts, NOT sorted, each {"id": str, "requester": str,
              "decided_at": int, "outcome_at": int} (times in days; outcome_at >= decided_at).
    valid_start, test_start: the two cutoffs (valid_start <= test_start).

    Rules:
      1. By decision time: train if decided_at < valid_start; valid if valid_start <= decided_at <
         test_start; test if decided_at >= test_start (a decision exactly at a cutoff is later).
      2. Outcomes knowable in time: leave out a train episode whose outcome_at >= valid_start,
         and a validation episode whose outcome_at >= test_start (test keeps all its outcomes).
      3. No repeat requesters: leave out a validation or test episode whose requester has any
         episode decided before that period began (before valid_start, resp. test_start).
    Return three lists of ids (any order within a list).
    """
    raise NotImplementedError("write time_split: assign by decided_at, then drop late outcomes and repeat requesters")


if SOLVE:
    exec(solution("time-split"))
report = check("time-split", time_split)
