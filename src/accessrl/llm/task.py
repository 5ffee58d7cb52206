r"""The routing-and-justification task as a token-level MDP, with its hidden true reward.

**Prompts** describe an access request by three facts: the requester's tier
(``low``/``high``), the evidence attached (``none``/``weak``/``strong``) and the policy
(``standard`` or ``P-7``, which requires review unless evidence is strong): 12 prompts.
A prompt is the token sequence ``<bos> tier evidence policy <sep>``.

**Responses** are short token sequences: a routing decision (the lesson's
``auto_approve``, ``request_evidence``, ``human_review``) followed by a justification
drawn from a small vocabulary of fact words and ``because``, ended by ``<eos>``.

**The token-level MDP** (Ouyang et al. 2022, §3.5; Ramamurthy et al. 2023): the state
:math:`s_t = (x, y_{<t})` is the prompt and the prefix generated so far; the action
:math:`a_t = y_t` is the next token (any response token or ``<eos>``); the transition
appends it deterministically; the episode ends at ``<eos>`` or after ``max_len``
tokens.  The reward arrives at the end, :math:`R(x, y)`, and with a KL penalty to a
reference policy every token also pays :math:`-\beta \log \pi(y_t \mid s_t) / \pi_{ref}(y_t \mid s_t)`
(the per-token form of InstructGPT's objective, eq. 2).  :class:`TokenMDP` spells out
states, actions, transitions and rewards; the trainers use the same rule in batch, and
:func:`as_mdp` compiles a short-horizon token MDP into an accessrl model that the
planners solve exactly.

**The hidden true reward** :func:`true_reward` plays the human: a correct route earns
+2 (a wrong one -1; approving what must be reviewed -3), each distinct fact that holds
+0.5 (one that does not -0.5), ``because`` +0.25 once; every repeated token costs 0.6,
every justification word beyond four 0.3, a response cut at ``max_len`` 0.5, and one
that does not start with a decision scores -2.  Only noisy comparisons of it are shown
to the reward model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec

PAD, BOS, SEP, EOS = "<pad>", "<bos>", "<sep>", "<eos>"
TIERS = ("low", "high")
EVIDENCE = ("none", "weak", "strong")
POLICIES = ("standard", "P-7")
DECISIONS = ("auto_approve", "request_evidence", "human_review")
FACT_WORDS = ("low-tier", "high-tier", "no-evidence", "weak-evidence", "strong-evidence",
              "standard-policy", "policy-P7")
WORDS = (*FACT_WORDS, "because")

PROMPT_TOKENS = tuple(f"tier:{t}" for t in TIERS) + tuple(f"evidence:{e}" for e in EVIDENCE) + tuple(
    f"policy:{p}" for p in POLICIES
)
VOCAB: tuple[str, ...] = (PAD, BOS, SEP, EOS, *PROMPT_TOKENS, *DECISIONS, *WORDS)
TOKEN = {t: i for i, t in enumerate(VOCAB)}
RESPONSE_TOKENS: tuple[int, ...] = (TOKEN[EOS], *(TOKEN[d] for d in DECISIONS), *(TOKEN[w] for w in WORDS))
"""The action set of the token MDP: every token a response may contain."""
PROMPT_LEN = 5
DEFAULT_MAX_LEN = 8


@dataclass(frozen=True)
class Prompt:
    """One access request: tier, evidence, policy."""

    tier: str
    evidence: str
    policy: str

    def tokens(self) -> tuple[int, ...]:
        """``<bos> tier evidence policy <sep>`` as token ids."""
        return (TOKEN[BOS], TOKEN[f"tier:{self.tier}"], TOKEN[f"evidence:{self.evidence}"],
                TOKEN[f"policy:{self.policy}"], TOKEN[SEP])

    def correct_decision(self) -> str:
        """The route the hidden rule wants: P-7 needs review unless evidence is strong;
        under the standard policy a high tier without strong evidence asks for evidence."""
        if self.evidence == "strong" or (self.policy == "standard" and self.tier == "low"):
            return "auto_approve"
        return "human_review" if self.policy == "P-7" else "request_evidence"

    def true_facts(self) -> frozenset[str]:
        """The fact words that hold for this request."""
        ev = {"none": "no-evidence", "weak": "weak-evidence", "strong": "strong-evidence"}[self.evidence]
        pol = "standard-policy" if self.policy == "standard" else "policy-P7"
        return frozenset({f"{self.tier}-tier", ev, pol})


PROMPTS: tuple[Prompt, ...] = tuple(Prompt(t, e, p) for t in TIERS for e in EVIDENCE for p in POLICIES)
"""All 12 access requests."""


def prompt_features(prompt: Prompt) -> np.ndarray:
    """Multi-hot of the three facts (7,), in ``PROMPT_TOKENS`` order."""
    out = np.zeros(len(PROMPT_TOKENS))
    for tok in prompt.tokens()[1:4]:
        out[tok - TOKEN[PROMPT_TOKENS[0]]] = 1.0
    return out


def decode(tokens: Sequence[int]) -> tuple[str, ...]:
    """Token ids of a response up to (not including) ``<eos>`` or padding, as words."""
    out = []
    for t in tokens:
        if t in (TOKEN[EOS], TOKEN[PAD]):
            break
        out.append(VOCAB[int(t)])
    return tuple(out)


def encode(words: Sequence[str], max_len: int = DEFAULT_MAX_LEN) -> tuple[int, ...]:
    """Words to token ids, ``<eos>`` appended when it fits (padding not included)."""
    ids = [TOKEN[w] for w in words][:max_len]
    if len(ids) < max_len:
        ids.append(TOKEN[EOS])
    return tuple(ids)


@dataclass(frozen=True)
class RewardBreakdown:
    """The parts of the true reward of one response."""

    total: float
    correct_route: bool
    repeats: int
    length: int


def true_reward_parts(prompt: Prompt, tokens: Sequence[int], max_len: int = DEFAULT_MAX_LEN) -> RewardBreakdown:
    """The hidden reward with its parts (see the module docstring)."""
    words = decode(tokens)
    ended = any(int(t) == TOKEN[EOS] for t in tokens[:max_len])
    if not words or words[0] not in DECISIONS:
        return RewardBreakdown(-2.0, False, len(words) - len(set(words)), len(words))
    decision, rest = words[0], words[1:]
    right = prompt.correct_decision()
    if decision == right:
        total = 2.0
    elif decision == "auto_approve" and right == "human_review":
        total = -3.0
    else:
        total = -1.0
    facts = prompt.true_facts()
    for w in set(rest):
        if w in FACT_WORDS:
            total += 0.5 if w in facts else -0.5
        elif w == "because":
            total += 0.25
        elif w in DECISIONS:
            total -= 0.5
    repeats = len(words) - len(set(words))
    total -= 0.6 * repeats + 0.3 * max(0, len(rest) - 4) + (0.0 if ended else 0.5)
    return RewardBreakdown(total, decision == right, repeats, len(words))


def true_reward(prompt: Prompt, tokens: Sequence[int], max_len: int = DEFAULT_MAX_LEN) -> float:
    """R*(x, y): the hidden reward the learned reward model only sees through comparisons.

    >>> p = Prompt("high", "weak", "P-7")
    >>> true_reward(p, encode(["human_review", "because", "weak-evidence", "policy-P7"]))
    3.25
    >>> true_reward(p, encode(["human_review"] + ["policy-P7"] * 6))
    -1.1
    """
    return true_reward_parts(prompt, tokens, max_len).total


@dataclass(frozen=True)
class TokenMDP:
    r"""The token-level MDP of one prompt, made explicit.

    ``state`` = prompt token ids + generated prefix; ``actions`` = :data:`RESPONSE_TOKENS`;
    ``step`` appends the token; terminal at ``<eos>`` or ``max_len`` generated tokens.
    ``reward(state, token, kl_term)`` is :math:`-\beta\,\mathrm{kl}_t` plus, on the last
    token, :math:`R(x, y)` — InstructGPT's per-token reward.

    >>> m = TokenMDP(PROMPTS[0], max_len=2)
    >>> s = m.step(m.initial_state(), TOKEN["auto_approve"])
    >>> m.is_terminal(s), m.is_terminal(m.step(s, TOKEN["<eos>"]))
    (False, True)
    """

    prompt: Prompt
    max_len: int = DEFAULT_MAX_LEN
    beta: float = 0.0

    def initial_state(self) -> tuple[int, ...]:
        return self.prompt.tokens()

    def actions(self, state: tuple[int, ...]) -> tuple[int, ...]:
        return () if self.is_terminal(state) else RESPONSE_TOKENS

    def step(self, state: tuple[int, ...], token: int) -> tuple[int, ...]:
        if self.is_terminal(state):
            raise ParameterError("token MDP: the episode has ended; no action is available")
        if token not in RESPONSE_TOKENS:
            raise ParameterError(f"token MDP: token {token} is not a response token")
        return (*state, int(token))

    def response(self, state: tuple[int, ...]) -> tuple[int, ...]:
        return state[PROMPT_LEN:]

    def is_terminal(self, state: tuple[int, ...]) -> bool:
        r = self.response(state)
        return len(r) >= self.max_len or (len(r) > 0 and r[-1] == TOKEN[EOS])

    def reward(
        self, state: tuple[int, ...], token: int, kl_term: float = 0.0,
        reward_fn: Callable[[Prompt, Sequence[int]], float] | None = None,
    ) -> float:
        """Reward of taking ``token`` in ``state``: -beta * kl_term, plus R(x, y) if it ends."""
        nxt = self.step(state, token)
        r = -self.beta * kl_term
        if self.is_terminal(nxt):
            fn = reward_fn or (lambda p, y: true_reward(p, y, self.max_len))
            r += fn(self.prompt, self.response(nxt))
        return r


def as_mdp(
    prompt: Prompt, max_len: int = 3, reward_fn: Callable[[Prompt, Sequence[int]], float] | None = None
) -> MDP:
    """The token MDP of one prompt as an accessrl :class:`~accessrl.model.MDP` (gamma 1).

    One state per prefix (``"<start>"``, ``"human_review"``, ``"human_review because"``,
    ...), one action per response token, reward R(x, y) on the step that ends the
    response, 0 before.  Its size is the number of prefixes, sum_t 12^t, so keep
    ``max_len`` small; the planners then find the best response exactly.

    >>> from accessrl.planning import solve
    >>> m = as_mdp(Prompt("high", "weak", "P-7"), max_len=3)
    >>> float(solve(m).values[m.start])
    2.5
    """
    if max_len < 1:
        raise ParameterError(f"max_len: expected a sequence length of at least 1, got {max_len}")
    fn = reward_fn or (lambda p, y: true_reward(p, y, max_len))
    names = {TOKEN[EOS]: EOS, **{t: VOCAB[t] for t in RESPONSE_TOKENS}}
    transitions: dict[str, Any] = {}
    frontier: list[tuple[int, ...]] = [()]
    while frontier:
        nxt: list[tuple[int, ...]] = []
        for prefix in frontier:
            acts: dict[str, Any] = {}
            for tok in RESPONSE_TOKENS:
                seq = (*prefix, tok)
                if tok == TOKEN[EOS] or len(seq) >= max_len:
                    acts[names[tok]] = {"next": "<end>", "reward": fn(prompt, seq)}
                else:
                    acts[names[tok]] = {"next": _prefix_name(seq), "reward": 0.0}
                    nxt.append(seq)
            transitions[_prefix_name(prefix)] = acts
        frontier = nxt
    spec = {"name": f"token-mdp:{prompt.tier}/{prompt.evidence}/{prompt.policy}", "gamma": 1.0,
            "start": "<start>", "terminal": ["<end>"], "transitions": transitions}
    return compile_spec(spec, source="llm:token-mdp")


def _prefix_name(prefix: tuple[int, ...]) -> str:
    return " ".join(VOCAB[t] for t in prefix) if prefix else "<start>"


def demonstration(prompt: Prompt, rng: np.random.Generator, *, accuracy: float = 0.8) -> tuple[str, ...]:
    """One demonstrator response: the right route with probability ``accuracy``, then
    ``because`` (half the time) and each true fact with probability 0.6, shuffled; a
    false fact slips in with probability 0.15."""
    right = prompt.correct_decision()
    decision = right if rng.random() < accuracy else str(rng.choice([d for d in DECISIONS if d != right]))
    facts = [w for w in FACT_WORDS if w in prompt.true_facts() and rng.random() < 0.6]
    if rng.random() < 0.15:
        facts.append(str(rng.choice([w for w in FACT_WORDS if w not in prompt.true_facts()])))
    order = rng.permutation(len(facts))
    words = [decision] + (["because"] if rng.random() < 0.5 else []) + [facts[i] for i in order]
    return tuple(words)


def candidate_response(prompt: Prompt, rng: np.random.Generator) -> tuple[str, ...]:
    """A response to be compared by the labeller: a noisier demonstrator (right route
    60% of the time, random facts true or false), occasionally repeating a word."""
    words = list(demonstration(prompt, rng, accuracy=0.6))
    if rng.random() < 0.4:
        words.append(str(rng.choice(FACT_WORDS)))
    if rng.random() < 0.1 and len(words) > 1:
        words.append(words[1 + int(rng.integers(len(words) - 1))])
    return tuple(words)


@dataclass(frozen=True, eq=False)
class Comparisons:
    """Preference pairs: ``prompt[i]`` with ``chosen[i]`` preferred over ``rejected[i]``.

    ``true_margin[i]`` = R*(chosen) - R*(rejected) without noise (for agreement).
    """

    prompts: tuple[Prompt, ...]
    chosen: tuple[tuple[int, ...], ...]
    rejected: tuple[tuple[int, ...], ...]
    true_margin: np.ndarray


def ranking_pairs(k: int) -> list[tuple[int, int]]:
    """All pairs (better, worse) of a ranking of ``k`` responses, best first: K-wise
    rankings expand to C(K, 2) comparisons (Ouyang et al. 2022, §3.5).

    >>> ranking_pairs(3)
    [(0, 1), (0, 2), (1, 2)]
    """
    if k < 2:
        raise ParameterError(f"ranking size: expected at least 2 responses, got {k}")
    return [(i, j) for i in range(k) for j in range(i + 1, k)]


def comparisons(
    n_prompts: int, rng: np.random.Generator, *, k: int = 4, noise: float = 0.5, max_len: int = DEFAULT_MAX_LEN
) -> Comparisons:
    """``n_prompts`` labelled rankings of ``k`` candidates each, expanded to pairs.

    The labeller ranks by R*(x, y) + Normal(0, ``noise``) — a hidden reward seen
    through noise, as human labels are.
    """
    if n_prompts < 1:
        raise ParameterError(f"n_prompts: expected at least 1, got {n_prompts}")
    pairs = ranking_pairs(k)
    ps: list[Prompt] = []
    ch: list[tuple[int, ...]] = []
    rj: list[tuple[int, ...]] = []
    margin: list[float] = []
    for _ in range(n_prompts):
        prompt = PROMPTS[int(rng.integers(len(PROMPTS)))]
        cands = [encode(candidate_response(prompt, rng), max_len) for _ in range(k)]
        truth = np.array([true_reward(prompt, c, max_len) for c in cands])
        order = np.argsort(-(truth + noise * rng.standard_normal(k)), kind="stable")
        for i, j in pairs:
            a, b = int(order[i]), int(order[j])
            ps.append(prompt)
            ch.append(cands[a])
            rj.append(cands[b])
            margin.append(float(truth[a] - truth[b]))
    return Comparisons(tuple(ps), tuple(ch), tuple(rj), np.array(margin))


__all__ = [
    "DECISIONS",
    "DEFAULT_MAX_LEN",
    "FACT_WORDS",
    "PROMPTS",
    "PROMPT_LEN",
    "RESPONSE_TOKENS",
    "TOKEN",
    "VOCAB",
    "Comparisons",
    "Prompt",
    "RewardBreakdown",
    "TokenMDP",
    "as_mdp",
    "candidate_response",
    "comparisons",
    "decode",
    "demonstration",
    "encode",
    "prompt_features",
    "ranking_pairs",
    "true_reward",
    "true_reward_parts",
]
