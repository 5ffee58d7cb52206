"""The words of each studio page: a title, a short explanation, the equation and the library call.

Written for the studio (the lesson's facts and numbers, in our own words).  Equations are small
HTML fragments (``<sub>``, ``<sup>``) so the page needs no maths library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabPage:
    """One lab page's text."""

    name: str
    title: str
    intro: tuple[str, ...]
    equation: str
    call: str


LAB_PAGES: tuple[LabPage, ...] = (
    LabPage(
        "returns", "Discounted returns",
        ("A route through the workflow is a list of rewards, one per step. The discounted return adds them up, "
         "shrinking each later reward by a factor gamma per step, so a reward that arrives later counts for less.",
         "With gamma = 0.9 and evidence that always arrives, asking for evidence first (-4, then +70) is worth 59, "
         "a little more than sending the request to a reviewer (-18, then +80), worth 54. Edit the rewards or gamma "
         "and watch which route wins."),
        "G<sub>t</sub> = R<sub>t+1</sub> + &gamma; R<sub>t+2</sub> + &gamma;<sup>2</sup> R<sub>t+3</sub> + &hellip; "
        "= &sum;<sub>k&ge;0</sub> &gamma;<sup>k</sup> R<sub>t+k+1</sub>",
        "accessrl.model.returns.discounted_return(rewards, gamma)",
    ),
    LabPage(
        "bellman-backup", "One Bellman backup",
        ("Once we know what each next state is worth, the value of an action is its immediate reward plus the "
         "discounted value of where it leads. The best action is the one with the largest such value.",
         "At new_request the three actions score -120, 59 and 54 from the successors' optimal values (0, 70 and 80): "
         "request_evidence is greedy. The diagram shows the workflow: states are boxes with their value, each arrow "
         "an action outcome labelled with its probability and reward, the greedy choice in red."),
        "Q(s, a) = &sum;<sub>s&prime;</sub> p(s&prime; | s, a) [ r(s, a, s&prime;) + &gamma; V(s&prime;) ], "
        "&nbsp; V(s) = max<sub>a</sub> Q(s, a)",
        "accessrl.planning.bellman_backup(mdp, values)",
    ),
    LabPage(
        "value-iteration", "Value iteration, sweep by sweep",
        ("Value iteration starts every state at 0 and applies the backup to all states at once, again and again. "
         "Each sweep pushes information about rewards one step further back from the end of the workflow.",
         "Sweep 1 learns what the states next to closed are worth (evidence_ready 70, review_queue 80); sweep 2 carries "
         "that back to new_request (59); sweep 3 changes nothing, so the values have converged. Step through the "
         "sweeps: each Q at sweep k is computed from the values of sweep k - 1."),
        "V<sub>k+1</sub>(s) = max<sub>a</sub> &sum;<sub>s&prime;</sub> p(s&prime; | s, a) [ r + &gamma; "
        "V<sub>k</sub>(s&prime;) ], &nbsp; V<sub>0</sub> = 0",
        "accessrl.value_iteration(mdp, record=True).sweeps",
    ),
    LabPage(
        "abandonment", "Abandonment flips the decision",
        ("Some requesters never send the evidence they were asked for. If a share p of them abandon (reward -54, "
         "request closed), asking for evidence is worth a weighted average of the two outcomes.",
         "Its value falls in a straight line as p grows: (1 - p) 59 + p (-54) = 59 - 113p. Human review stays at 54, "
         "so the best first action flips at p = 5/113, about 4.4%. Move the slider across that line and watch the "
         "red edge in the diagram move."),
        "Q(new_request, request_evidence) = (1 - p)(-4 + &gamma; 70) + p(-54) = 59 - 113 p &nbsp; vs &nbsp; "
        "Q(new_request, human_review) = 54",
        "accessrl.planning.sensitivity.probability_sweep(mdp, 'new_request', 'request_evidence', 'closed', grid)",
    ),
    LabPage(
        "monte-carlo", "Monte Carlo: one request is not the average",
        ("An expected value describes many similar requests. Simulating them one by one shows the spread behind "
         "the average: the evidence route either pays 59 (evidence arrives) or -54 (the requester gives up).",
         "With the lesson's seed 7 and 10,000 episodes each, the evidence route averages 30.33 (exact value 30.75) "
         "and 2,537 requesters abandon; the review route is always 54."),
        "mean = (1/n) &sum;<sub>i</sub> G<sub>i</sub>, &nbsp; 95% interval = mean &plusmn; 1.96 s / &radic;n",
        "accessrl.simulate(mdp, policy, n, rng=np.random.default_rng(seed), first_action=a)",
    ),
    LabPage(
        "q-learning", "Q-learning from sampled episodes",
        ("Without the transition table, an agent can still learn action values from what it sees: after each step it "
         "moves its estimate towards the reward plus the discounted best estimate at the next state.",
         "It explores with probability epsilon and its step size shrinks as visits^(-omega), so later samples "
         "overwrite less. With the lesson's seed 13, Q(new_request, request_evidence) ends at 30.5, near the exact "
         "30.75 (the dashed lines are Q*)."),
        "Q(S, A) &larr; Q(S, A) + &alpha;<sub>n</sub> [ R + &gamma; max<sub>a</sub> Q(S&prime;, a) - Q(S, A) ], "
        "&nbsp; &alpha;<sub>n</sub> = n<sup>-&omega;</sup>",
        "accessrl.learning.learn(mdp, episodes=20_000, epsilon=0.15, omega=0.6, rng=np.random.default_rng(13))",
    ),
    LabPage(
        "exploration", "Why explore",
        ("A learner that always takes its current best guess can lock onto a poor action. Here each first action pays "
         "its exact value at once (-120, 30.75, 54) and the learner keeps a running average per action.",
         "Greedy (epsilon = 0) tries auto_approve once, then request_evidence looks better than the untried "
         "human_review (still 0) forever. With epsilon = 0.10 it stumbles onto human_review and switches."),
        "a = argmax<sub>a</sub> Q(a) with probability 1 - &epsilon;, a uniform action otherwise; &nbsp; "
        "Q(a) &larr; Q(a) + (G - Q(a)) / n(a)",
        "accessrl.learning.learn(one_state_bandit(mdp, q_star), episodes=400, epsilon=eps, step_size='1/n')",
    ),
    LabPage(
        "reward-design", "Reward design and its audit",
        ("A policy optimises the reward it is given, not what its designer meant. Each outcome of the workflow carries "
         "named components (user outcome, policy violation, abuse risk, unfair denial, days waited, reviewer minutes, "
         "resolved); a reward design weighs them into one number.",
         "A design that pays only for speed chooses auto_approve: every such approval violates policy P-7. The audit "
         "solves each design and measures its policy exactly, flagging a design whose policy takes a shortcut while "
         "another reaches the end with fewer violations. Edit your own weights."),
        "r = &sum;<sub>c</sub> w<sub>c</sub> &times; component<sub>c</sub>, &nbsp; rate per 1,000 = 1000 "
        "&times; &sum;<sub>s,a</sub> d<sup>&pi;</sup>(s, a) violation(s, a)",
        "accessrl.rewards.audit(mdp, [RewardDesign('yours', weights), ...])",
    ),
    LabPage(
        "policy-gradient", "Policy gradient (REINFORCE)",
        ("Instead of values, a policy can be a softmax over one number (logit) per action. REINFORCE nudges the logits "
         "so that actions whose return beats a baseline become more likely.",
         "The lesson's batch holds one completed route per action (returns -120, 30.75, 54) and uses their mean as "
         "the baseline; one step of size 0.03 moves the probabilities from 1/3 each to 0.089, 0.403, 0.508. Beside "
         "the sampled gradient is the exact one, pi(b)(Q(b) - sum pi Q)."),
        "&nabla;<sub>&theta;</sub> J &asymp; (1/N) &sum;<sub>i</sub> (G<sub>i</sub> - b) &nabla;<sub>&theta;</sub> "
        "log &pi;<sub>&theta;</sub>(a<sub>i</sub>), &nbsp; &nabla; log &pi;(a) = e<sub>a</sub> - &pi;",
        "accessrl.learning.policy_gradient.bandit_gradient(logits, actions, returns, baseline='mean')",
    ),
    LabPage(
        "held-out", "Held-out evaluation",
        ("Training reward is no promise about tomorrow. A candidate policy must be scored on later requests that "
         "played no part in choosing it, counting severe errors apart from the mean.",
         "The lesson's small table compares three candidates on four held-out requests. Below it, the same question on "
         "a generated decision log: split by time, checked for leakage (shared requesters, outcomes after the cutoff, "
         "episodes that straddle it), and each candidate scored on the test period by weighted importance sampling.",
         "The words: weighted importance sampling (WIS) scores a candidate from episodes another policy chose, "
         "weighting each episode by how much more (or less) likely the candidate was to act as logged (w above); "
         "the effective sample size (ESS) is how many episodes those weights are worth; an episode straddles a "
         "cutoff when it began before it and ended after it, so its outcome would leak into the earlier period.",
         "Why risk_aware is 62 in the lesson's table and about 54 on the generated logs: the table is illustrative, "
         "half of its requests have clear evidence where auto-approval earns 70; the logs come from the abandonment "
         "workflow, where every request starts at new_request and risk_aware's first action, human_review, is worth "
         "-18 + 0.9 x 80 = 54 (the 'true value' column)."),
        "V&#770;<sub>WIS</sub> = &sum;<sub>i</sub> w<sub>i</sub> G<sub>i</sub> / &sum;<sub>i</sub> w<sub>i</sub>, "
        "&nbsp; w<sub>i</sub> = &prod;<sub>t</sub> &pi;(a<sub>t</sub> | s<sub>t</sub>) / "
        "&mu;(a<sub>t</sub> | s<sub>t</sub>)",
        "accessrl.offline.temporal_split(steps, cutoffs, prevent=True); accessrl.offline.evaluate_policy(test, pi, ...)",
    ),
)
"""Every lab page, in the lesson's order."""


__all__ = ["LAB_PAGES", "LabPage"]
