// accessrl studio, watch mode: the library's planning and learning steps, run in the page so a
// step is instant, and drawn on the workflow diagram. Plain JavaScript, no libraries.
//
// The engine (Engine, Learner, prng) is the library's code transcribed: planning/exact.py
// (q_values, bellman_backup, policy_evaluation, greedy_policy) and learning/reference.py
// (ReferenceEngine: the episode loop, epsilon-greedy with one uniform, the outcome drawn by
// cumulative probability in declared order, the per-algorithm targets, the step sizes). The
// same random draws give the same numbers: tests/studio/test_watch.py checks it in Chromium.
"use strict";

// ---------------------------------------------------------------- random numbers
// mulberry32: a small seeded generator of uniforms in [0, 1) (2^-32 resolution).
function prng(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Draws taken from a list (tests feed the same list to the library).
function listDraws(values) {
  let i = 0;
  return function () {
    if (i >= values.length) throw new Error("watch: ran out of random draws");
    return values[i++];
  };
}

// ---------------------------------------------------------------- planning (exact.py)
const Engine = {
  // Q(s, a) = sum_j p_j (r_j + gamma V(s'_j)), every pair, in the library's outcome order.
  qValues(m, V, gamma) {
    const q = new Float64Array(m.sa_action.length);
    for (let k = 0; k < q.length; k++) {
      let total = 0;
      for (let j = m.out_ptr[k]; j < m.out_ptr[k + 1]; j++) total += m.out_prob[j] * (m.out_reward[j] + gamma * V[m.out_next[j]]);
      q[k] = total;
    }
    return q;
  },
  // The first pair of state s with the largest q (ties toward the first declared action), or -1.
  bestPair(m, q, s) {
    let best = -1;
    for (let k = m.sa_ptr[s]; k < m.sa_ptr[s + 1]; k++) if (best < 0 || q[k] > q[best]) best = k;
    return best;
  },
  // One Bellman backup of state s, with every term: what the page prints.
  backupState(m, V, s, gamma) {
    const rows = [];
    for (let k = m.sa_ptr[s]; k < m.sa_ptr[s + 1]; k++) {
      const terms = [];
      let q = 0;
      for (let j = m.out_ptr[k]; j < m.out_ptr[k + 1]; j++) {
        terms.push({next: m.out_next[j], p: m.out_prob[j], r: m.out_reward[j], v: V[m.out_next[j]]});
        q += m.out_prob[j] * (m.out_reward[j] + gamma * V[m.out_next[j]]);
      }
      rows.push({pair: k, action: m.sa_action[k], terms, q});
    }
    let best = -1;
    rows.forEach((r, i) => { if (best < 0 || r.q > rows[best].q) best = i; });
    return {state: s, rows, best: best < 0 ? null : rows[best], value: best < 0 ? 0 : rows[best].q, old: V[s]};
  },
  // One sweep of value iteration (Jacobi, as the lesson's listing: every state from the old V).
  sweep(m, V, gamma) {
    const q = Engine.qValues(m, V, gamma);
    const out = new Float64Array(V.length);
    const policy = new Int32Array(V.length).fill(-1);
    let delta = 0;
    for (let s = 0; s < V.length; s++) {
      const k = Engine.bestPair(m, q, s);
      out[s] = k < 0 ? 0 : q[k];
      policy[s] = k;
      delta = Math.max(delta, Math.abs(out[s] - V[s]));
    }
    return {values: out, q, policy, delta};
  },
  // One sweep of iterative policy evaluation for a deterministic policy (pair per state).
  evaluateSweep(m, V, policy, gamma) {
    const out = new Float64Array(V.length);
    for (let s = 0; s < V.length; s++) {
      const k = policy[s];
      if (k < 0) continue;
      let total = 0;
      for (let j = m.out_ptr[k]; j < m.out_ptr[k + 1]; j++) total += m.out_prob[j] * (m.out_reward[j] + gamma * V[m.out_next[j]]);
      out[s] = total;
    }
    return out;
  },
  // Policy evaluation: sweeps until no value moves by more than tol (or maxSweeps).
  evaluate(m, policy, gamma, tol, maxSweeps) {
    let V = new Float64Array(m.state_names.length);
    let sweeps = 0, delta = Infinity;
    while (delta > tol && sweeps < maxSweeps) {
      const next = Engine.evaluateSweep(m, V, policy, gamma);
      delta = 0;
      for (let s = 0; s < V.length; s++) delta = Math.max(delta, Math.abs(next[s] - V[s]));
      V = next;
      sweeps++;
    }
    return {values: V, sweeps, delta};
  },
  // Policy improvement: greedy in Q of V (first best).
  improve(m, V, gamma) {
    const q = Engine.qValues(m, V, gamma);
    const policy = new Int32Array(V.length).fill(-1);
    for (let s = 0; s < V.length; s++) policy[s] = Engine.bestPair(m, q, s);
    return policy;
  },
  // The first declared pair of each state: the policy iteration starts from.
  firstPolicy(m) {
    const policy = new Int32Array(m.state_names.length).fill(-1);
    for (let s = 0; s < policy.length; s++) if (m.sa_ptr[s + 1] > m.sa_ptr[s] && !m.ends[s]) policy[s] = m.sa_ptr[s];
    return policy;
  },
};

// ---------------------------------------------------------------- learning (reference.py)
// opts: {algorithm: "q-learning"|"sarsa"|"expected-sarsa", epsilon, gamma, step: {kind: "visits"|"1/n"|"constant", omega, alpha}, maxSteps}
function Learner(m, opts, rand) {
  this.m = m;
  this.opts = Object.assign({algorithm: "q-learning", epsilon: 0.15, step: {kind: "visits", omega: 0.6, alpha: 0.1}, maxSteps: 10000}, opts);
  this.rand = rand;
  const L = m.sa_action.length;
  this.q = new Float64Array(L);
  this.visits = new Int32Array(L);
  this.q2 = new Float64Array(L);  // double Q's second table
  this.visits2 = new Int32Array(L);
  this.only = new Int32Array(L).fill(-1);
  for (let k = 0; k < L; k++) {
    let n = 0, last = -1;
    for (let j = m.out_ptr[k]; j < m.out_ptr[k + 1]; j++) if (m.out_prob[j] > 0) { n++; last = j; }
    if (n === 1) this.only[k] = last;
  }
  this.startStates = [];
  m.start_probs.forEach((p, s) => { if (p > 0) this.startStates.push(s); });
  this.episodes = 0; this.steps = 0; this.truncated = 0;
  this.state = -1;  // -1: the next step starts an episode
  this.pair = -1;
  this.t = 0;
  this.episodeReturn = 0; this.discount = 1; this.lastReturn = null;
}

Learner.prototype.gamma = function () { return this.opts.gamma === undefined ? this.m.gamma : this.opts.gamma; };

// The first allowed pair of s with the largest value in table (default: Q; double Q's behaviour: Q1 + Q2).
Learner.prototype.greedy = function (s, table) {
  const m = this.m;
  const v = table || (this.opts.algorithm === "double-q" ? (k) => this.q[k] + this.q2[k] : null);
  const t = v ? null : this.q;
  const val = (k) => (typeof v === "function" ? v(k) : (v || t)[k]);
  let best = m.allow_pair[m.allow_ptr[s]];
  for (let j = m.allow_ptr[s] + 1; j < m.allow_ptr[s + 1]; j++) if (val(m.allow_pair[j]) > val(best)) best = m.allow_pair[j];
  return best;
};

// What the page shows of a pair: Q, or the mean of double Q's two tables.
Learner.prototype.value = function (k) { return this.opts.algorithm === "double-q" ? (this.q[k] + this.q2[k]) / 2 : this.q[k]; };

// epsilon-greedy with one uniform; exploring picks floor(u n) of the allowed pairs (a second uniform).
Learner.prototype.choose = function (s, eps, record) {
  const m = this.m, lo = m.allow_ptr[s], hi = m.allow_ptr[s + 1];
  const u = this.rand();
  if (u < eps) {
    const u2 = this.rand();
    const pair = m.allow_pair[lo + Math.floor(u2 * (hi - lo))];
    if (record) Object.assign(record, {u, explored: true, u2});
    return pair;
  }
  if (record) Object.assign(record, {u, explored: false});
  return this.greedy(s);
};

Learner.prototype.outcome = function (pair, record) {
  const m = this.m;
  if (this.only[pair] >= 0) { record.uOutcome = null; return this.only[pair]; }
  const u = this.rand();
  record.uOutcome = u;
  let c = 0, last = -1;
  for (let j = m.out_ptr[pair]; j < m.out_ptr[pair + 1]; j++) {
    const p = m.out_prob[j];
    if (p > 0) { c += p; last = j; if (u < c) return j; }
  }
  return last;
};

Learner.prototype.rate = function (n) {
  const st = this.opts.step;
  if (st.kind === "visits") return Math.pow(n, -st.omega);
  if (st.kind === "1/n") return 1 / n;
  return st.alpha;
};

Learner.prototype.startEpisode = function () {
  const m = this.m;
  this.eps = this.opts.epsilon;  // read once per episode, as the library reads its schedule
  if (this.startStates.length === 1) this.state = this.startStates[0];
  else {  // sample_pair: one uniform over the start distribution
    const u = this.rand();
    let c = 0, pick = this.startStates[this.startStates.length - 1];
    for (const s of this.startStates) { c += m.start_probs[s]; if (u < c) { pick = s; break; } }
    this.state = pick;
  }
  this.pair = -1; this.t = 0; this.episodeReturn = 0; this.discount = 1;
};

// One step of the episode; returns everything the page shows about it.
Learner.prototype.step = function () {
  const m = this.m, gamma = this.gamma();
  if (this.state < 0 || m.ends[this.state]) this.startEpisode();
  if (this.t >= this.opts.maxSteps) { this.truncated++; this.episodes++; this.startEpisode(); }
  const s = this.state;
  const rec = {episode: this.episodes + 1, t: this.t, state: s, epsilon: this.eps, algorithm: this.opts.algorithm};
  let pair = this.pair;
  if (pair < 0) { pair = this.choose(s, this.eps, rec); rec.chosen = "now"; } else rec.chosen = "earlier";
  rec.pair = pair;
  const k = this.outcome(pair, rec);
  const nxt = m.out_next[k], r = m.out_reward[k], done = !!m.ends[nxt];
  Object.assign(rec, {outcome: k, next: nxt, reward: r, done});
  this.episodeReturn += this.discount * r; this.discount *= gamma;
  let target, nextPair = -1;
  const alg = this.opts.algorithm;
  let which = 0;
  if (alg === "double-q") {  // the coin is drawn even at a terminal next state, as the library draws it
    const coin = this.rand();
    which = coin < 0.5 ? 0 : 1;
    rec.coin = coin; rec.which = which;
    if (done) { target = r; rec.nextValue = 0; } else {
      const own = which === 0 ? this.q : this.q2, other = which === 0 ? this.q2 : this.q;
      const a2 = this.greedy(nxt, own);
      rec.nextPair = a2;
      rec.nextValue = other[a2];
      target = r + gamma * other[a2];
    }
  } else if (alg === "q-learning") {
    const best = done ? 0 : this.q[this.greedy(nxt)];
    rec.nextValue = best;
    target = r + (done ? 0 : gamma * best);
  } else if (alg === "sarsa") {
    if (done) { target = r; rec.nextValue = 0; } else {
      const r2 = {};
      nextPair = this.choose(nxt, this.eps, r2);
      rec.nextChoice = r2;
      rec.nextPair = nextPair;
      rec.nextValue = this.q[nextPair];
      target = r + gamma * this.q[nextPair];
    }
  } else if (alg === "expected-sarsa") {
    if (done) { target = r; rec.nextValue = 0; } else {
      const lo = m.allow_ptr[nxt], hi = m.allow_ptr[nxt + 1];
      let sum = 0;
      for (let j = lo; j < hi; j++) sum += this.q[m.allow_pair[j]];
      const mean = sum / (hi - lo), best = this.q[this.greedy(nxt)];
      Object.assign(rec, {nextMax: best, nextMean: mean});
      rec.nextValue = (1.0 - this.eps) * best + this.eps * mean;
      target = r + gamma * ((1.0 - this.eps) * best + this.eps * mean);
    }
  } else throw new Error("watch: unknown algorithm " + alg);
  rec.gamma = gamma;
  rec.target = target;
  const table = which === 0 ? this.q : this.q2, visits = which === 0 ? this.visits : this.visits2;
  visits[pair] += 1;
  const n = visits[pair];
  rec.visits = n;
  rec.qOld = table[pair];
  if (this.opts.step.kind === "1/n") { rec.alpha = 1 / n; table[pair] += (target - table[pair]) / n; } else {
    rec.alpha = this.rate(n);
    table[pair] += rec.alpha * (target - table[pair]);
  }
  rec.qNew = table[pair];
  this.steps++; this.t++;
  this.state = nxt; this.pair = nextPair;
  if (done) { this.episodes++; this.lastReturn = this.episodeReturn; rec.episodeReturn = this.episodeReturn; }
  return rec;
};

// Steps until the current episode ends (or it is truncated); the records of its steps.
Learner.prototype.finishEpisode = function () {
  const out = [];
  if (this.state < 0 || this.m.ends[this.state]) return out;
  while (!this.m.ends[this.state] && this.t < this.opts.maxSteps) out.push(this.step());
  return out;
};

// ---------------------------------------------------------------- the page
function withAbandonment(base, p) {
  // A copy of the model whose abandonment outcome has probability p (the pair's other outcomes
  // scaled to share 1 - p in their declared proportions).
  const a = base.abandonment;
  if (!a) return base;
  const m = Object.assign({}, base, {out_prob: base.out_prob.slice()});
  const lo = base.out_ptr[a.pair], hi = base.out_ptr[a.pair + 1];
  const rest = 1 - base.out_prob[a.outcome];
  for (let j = lo; j < hi; j++) m.out_prob[j] = j === a.outcome ? p : (rest > 0 ? base.out_prob[j] * (1 - p) / rest : (1 - p) / (hi - lo - 1));
  return m;
}

function valueColour(v, lo, hi) {
  // Diverging: red below 0, blue above, white at 0; scaled by the largest magnitude shown.
  const span = Math.max(Math.abs(lo), Math.abs(hi), 1e-9);
  const t = Math.max(-1, Math.min(1, v / span));
  const mix = (c) => Math.round(255 + (c - 255) * Math.abs(t));
  return t >= 0 ? `rgb(${mix(37)},${mix(99)},${mix(235)})` : `rgb(${mix(220)},${mix(38)},${mix(38)})`;
}

function num(x, d) { return x === null || x === undefined ? "" : Number(x).toFixed(d === undefined ? 2 : d); }

const Watch = {
  base: null, m: null, V: null, policy: null, learner: null, timer: null, sweeps: 0,
  selected: null, lastStep: null, seed: 1,

  async load(source) {
    this.pause();
    document.body.dataset.watchReady = "0";  // tests wait for "1": the model is drawn
    let data;
    if (source.text !== undefined) data = await api("/api/watch/model", {text: source.text});
    else {
      const res = await fetch(`/api/watch/model/${encodeURIComponent(source.name)}`);
      data = await res.json();
      if (!res.ok || data.error) { showError(data.error || "the model did not load"); data = null; }
    }
    if (data) {
      showError("");
      this.base = data;
      this.applyControls(true);
    }
    document.body.dataset.watchReady = "1";
  },

  controls() {
    return {
      algorithm: $("w-algorithm").value, epsilon: Number($("w-epsilon").value), gamma: Number($("w-gamma").value),
      abandon: Number($("w-abandon").value), stepKind: $("w-step").value, omega: Number($("w-omega").value),
      alpha: Number($("w-alpha").value), speed: Number($("w-speed").value), seed: Number($("w-seed").value),
    };
  },

  // Controls changed: the model and engine take the new values. Planning restarts from V = 0
  // when the model changes; learning keeps its table unless the model changed.
  applyControls(reset) {
    const c = this.controls();
    for (const [id, v] of [["w-epsilon-out", num(c.epsilon)], ["w-gamma-out", num(c.gamma, 3)], ["w-abandon-out", num(c.abandon)],
      ["w-omega-out", num(c.omega)], ["w-alpha-out", num(c.alpha)], ["w-speed-out", `${c.speed} steps/s`]]) $(id).textContent = v;
    $("w-omega-row").hidden = c.stepKind !== "visits";
    $("w-alpha-row").hidden = c.stepKind !== "constant";
    const ab = this.base.abandonment;
    $("w-abandon").disabled = !ab;
    $("w-abandon-note").textContent = ab ? "" : "(this workflow has no evidence request that can be abandoned)";
    const changedModel = reset || (ab && this.m && this.m.out_prob[ab.outcome] !== c.abandon);
    this.m = withAbandonment(this.base, ab ? c.abandon : 0);
    this.m.gammaShown = c.gamma;
    if (changedModel) {
      if (reset && ab) { $("w-abandon").value = String(ab.p); this.m = withAbandonment(this.base, ab.p); $("w-abandon-out").textContent = num(ab.p); }
      if (reset) { $("w-gamma").value = String(this.base.gamma); $("w-gamma-out").textContent = num(this.base.gamma, 3); }
      this.resetPlanning();
      this.resetLearning();
    } else if (this.learner) {
      Object.assign(this.learner.opts, this.learnerOpts());
      this.learner.m = this.m;
    }
    if (this.timer) { this.pause(); this.play(); }
    this.draw();
  },

  learnerOpts() {
    const c = this.controls();
    return {algorithm: c.algorithm, epsilon: c.epsilon, gamma: c.gamma, step: {kind: c.stepKind, omega: c.omega, alpha: c.alpha}};
  },

  resetPlanning() {
    this.V = new Float64Array(this.m.state_names.length);
    this.policy = Engine.firstPolicy(this.m);
    this.sweeps = 0;
    this.selected = this.m.start;
    $("w-arith").replaceChildren(el("p", {text: "V = 0 everywhere. Step a backup or a sweep to see its arithmetic."}));
  },

  resetLearning() {
    this.pause();
    this.learner = new Learner(this.m, this.learnerOpts(), prng(this.controls().seed));
    this.lastStep = null;
    $("w-update").replaceChildren(el("p", {text: "No step yet. Step or play an episode."}));
  },

  gamma() { return Number($("w-gamma").value); },

  backup() {
    const s = this.selected === null ? this.m.start : this.selected;
    const b = Engine.backupState(this.m, this.V, s, this.gamma());
    this.V[s] = b.value;
    if (b.best) this.policy[s] = b.best.pair;
    this.showBackup(b, `Bellman backup of ${this.m.state_names[s]} (in place)`);
    this.draw({flash: s});
    return b;
  },

  sweep() {
    const before = this.V;
    const s = this.selected === null ? this.m.start : this.selected;
    const shown = Engine.backupState(this.m, before, s, this.gamma());
    const res = Engine.sweep(this.m, before, this.gamma());
    this.V = res.values;
    this.policy = res.policy;
    this.sweeps++;
    this.showBackup(shown, `Sweep ${this.sweeps}: every state backed up from the previous values; the largest change was ${num(res.delta, 4)}. The arithmetic at ${this.m.state_names[s]}:`);
    this.draw();
    return res;
  },

  evaluateStep() {
    const g = this.gamma();
    const next = Engine.evaluateSweep(this.m, this.V, this.policy, g);
    let delta = 0;
    for (let s = 0; s < next.length; s++) delta = Math.max(delta, Math.abs(next[s] - this.V[s]));
    this.V = next;
    const s = this.selected === null ? this.m.start : this.selected;
    const k = this.policy[s];
    const box = [el("p", {text: `Policy evaluation (one sweep): each state's value under its current action, from the previous values; largest change ${num(delta, 4)}.`})];
    if (k >= 0) box.push(el("p", {class: "arith", text: `V(${this.m.state_names[s]}) = Q(${this.m.state_names[s]}, ${this.m.action_names[this.m.sa_action[k]]}) = ${num(next[s])}`}));
    $("w-arith").replaceChildren(...box);
    this.draw();
    return {values: next, delta};
  },

  improve() {
    const g = this.gamma();
    const old = this.policy.slice();
    this.policy = Engine.improve(this.m, this.V, g);
    const changed = [];
    for (let s = 0; s < old.length; s++) if (old[s] !== this.policy[s] && this.policy[s] >= 0) changed.push(`${this.m.state_names[s]}: ${old[s] >= 0 ? this.m.action_names[this.m.sa_action[old[s]]] : "-"} -> ${this.m.action_names[this.m.sa_action[this.policy[s]]]}`);
    $("w-arith").replaceChildren(el("p", {text: "Policy improvement: each state takes the action with the largest Q under the current values (ties: the first declared)."}),
      el("p", {class: "arith", text: changed.length ? "changed: " + changed.slice(0, 8).join("; ") + (changed.length > 8 ? ` and ${changed.length - 8} more` : "") : "no state changed its action: the policy is stable"}));
    this.draw();
    return this.policy;
  },

  showBackup(b, title) {
    const m = this.m, g = this.gamma(), name = (s) => m.state_names[s];
    const rows = b.rows.map((r) => {
      const signed = (x, d) => (x < 0 ? `(${num(x, d)})` : num(x, d));
      const terms = r.terms.map((t) => `${r.terms.length > 1 ? num(t.p, 3) + "·" : ""}(${num(t.r, 1)} + ${num(g, 2)}·${signed(t.v)})`).join(" + ");
      const win = b.best && r.pair === b.best.pair;
      return el("tr", {class: win ? "winner" : ""}, [el("td", {text: m.action_names[r.action]}), el("td", {class: "arith", text: terms}),
        el("td", {class: "num", text: num(r.q)}), el("td", {text: win ? "max: wins" : ""})]);
    });
    const table = el("table", {"aria-label": "Terms of the max"}, [el("thead", {}, [el("tr", {}, [el("th", {text: "action"}), el("th", {text: "Σ p·(r + γ·V(s'))"}), el("th", {text: "Q"}), el("th", {text: ""})])]), el("tbody", {}, rows)]);
    const verdict = b.best ? `V(${name(b.state)}) = max = ${num(b.value)} (was ${num(b.old)}), by ${m.action_names[b.best.action]}` : `${name(b.state)} has no action: V = 0`;
    $("w-arith").replaceChildren(el("p", {text: title}), table, el("p", {class: "verdict", text: verdict}));
  },

  stepAgent() {
    const rec = this.learner.step();
    this.lastStep = rec;
    this.showUpdate(rec);
    this.draw({agent: rec});
    return rec;
  },

  showUpdate(r) {
    const m = this.m, name = (s) => m.state_names[s], act = (k) => m.action_names[m.sa_action[k]];
    const lines = [];
    lines.push(`episode ${r.episode}, step ${r.t + 1}: in ${name(r.state)}`);
    if (r.chosen === "now") lines.push(r.explored ? `u = ${num(r.u, 3)} < ε = ${num(r.epsilon)}: explore, u₂ = ${num(r.u2, 3)} picks ${act(r.pair)}`
      : `u = ${num(r.u, 3)} ≥ ε = ${num(r.epsilon)}: greedy, ${act(r.pair)}`);
    else lines.push(`SARSA chose ${act(r.pair)} at the previous step`);
    lines.push(`outcome: ${r.uOutcome === null ? "the only one" : "u = " + num(r.uOutcome, 3)} -> ${name(r.next)}, reward ${num(r.reward, 1)}${r.done ? " (episode ends)" : ""}`);
    let tgt;
    if (r.done) tgt = `target = r = ${num(r.target)} (terminal: no future)`;
    else if (r.algorithm === "q-learning") tgt = `target = r + γ·max Q(${name(r.next)}, ·) = ${num(r.reward, 1)} + ${num(r.gamma, 2)}·${num(r.nextValue)} = ${num(r.target)}`;
    else if (r.algorithm === "double-q") tgt = `coin = ${num(r.coin, 3)}: update Q${r.which + 1}; target = r + γ·Q${2 - r.which}(${name(r.next)}, argmax Q${r.which + 1}) = ${num(r.reward, 1)} + ${num(r.gamma, 2)}·${num(r.nextValue)} = ${num(r.target)}`;
    else if (r.algorithm === "sarsa") tgt = `target = r + γ·Q(${name(r.next)}, ${act(r.nextPair)}) = ${num(r.reward, 1)} + ${num(r.gamma, 2)}·${num(r.nextValue)} = ${num(r.target)}`;
    else tgt = `target = r + γ·((1-ε)·max + ε·mean) = ${num(r.reward, 1)} + ${num(r.gamma, 2)}·(${num(1 - r.epsilon)}·${num(r.nextMax)} + ${num(r.epsilon)}·${num(r.nextMean)}) = ${num(r.target)}`;
    lines.push(tgt);
    const st = this.learner.opts.step;
    const alphaText = st.kind === "visits" ? `α = n^-ω = ${r.visits}^-${num(st.omega)} = ${num(r.alpha, 4)}` : st.kind === "1/n" ? `α = 1/n = 1/${r.visits} = ${num(r.alpha, 4)}` : `α = ${num(r.alpha, 4)} (constant)`;
    lines.push(alphaText);
    if (r.algorithm === "double-q" && r.done) lines[lines.length - 2] = `coin = ${num(r.coin, 3)}: update Q${r.which + 1}; target = r = ${num(r.target)} (terminal: no future)`;
    lines.push(`${r.algorithm === "double-q" ? "Q" + (r.which + 1) : "Q"}(${name(r.state)}, ${act(r.pair)}) ← ${num(r.qOld)} + ${num(r.alpha, 4)}·(${num(r.target)} - ${num(r.qOld)}) = ${num(r.qNew)}`);
    $("w-update").replaceChildren(...lines.map((t, i) => el("p", {class: i === lines.length - 1 ? "verdict" : "arith", text: t})));
    const plural = (n, w) => `${n} ${w}${n === 1 ? "" : "s"}`;
    $("w-stats").textContent = `${plural(this.learner.steps, "step")}, ${plural(this.learner.episodes, "episode")}` + (this.learner.lastReturn !== null ? `, last return ${num(this.learner.lastReturn)}` : "");
  },

  play() {
    if (this.timer) return;
    const c = this.controls();
    $("w-play").textContent = "Pause";
    $("w-play").setAttribute("aria-pressed", "true");
    let last = performance.now(), owed = 0;
    const tick = (now) => {
      owed += (now - last) * c.speed / 1000; last = now;
      const n = Math.min(Math.floor(owed), 200);
      owed -= n;
      let rec = null;
      for (let i = 0; i < n; i++) rec = this.learner.step();
      if (rec) { this.lastStep = rec; this.showUpdate(rec); this.draw({agent: rec}); }
      this.timer = requestAnimationFrame(tick);
    };
    this.timer = requestAnimationFrame(tick);
  },

  pause() {
    if (this.timer) cancelAnimationFrame(this.timer);
    this.timer = null;
    if ($("w-play")) { $("w-play").textContent = "Play"; $("w-play").setAttribute("aria-pressed", "false"); }
  },

  // Values as colour: V (planning) or max Q (learning), whichever the view shows.
  shownValues() {
    if ($("w-view").value === "planning") return this.V;
    const m = this.m, out = new Float64Array(m.state_names.length);
    for (let s = 0; s < out.length; s++) {
      let best = null;
      for (let k = m.sa_ptr[s]; k < m.sa_ptr[s + 1]; k++) if (best === null || this.learner.value(k) > best) best = this.learner.value(k);
      out[s] = best === null ? 0 : best;
    }
    return out;
  },

  shownPolicy() {
    if ($("w-view").value === "planning") return this.policy;
    const m = this.m, out = new Int32Array(m.state_names.length).fill(-1);
    for (let s = 0; s < out.length; s++) if (m.allow_ptr[s + 1] > m.allow_ptr[s] && !m.ends[s]) out[s] = this.learner.greedy(s);
    return out;
  },

  draw(opts) {
    const o = opts || {};
    const values = this.shownValues(), policy = this.shownPolicy();
    let lo = 0, hi = 0;
    for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const agent = o.agent || ($("w-view").value === "learning" ? this.lastStep : null);
    if (this.base.layout) this.drawGraph(values, policy, lo, hi, agent);
    else this.drawGrid(values, lo, hi, agent);
    $("w-legend").textContent = `colour: ${$("w-view").value === "planning" ? "V" : "max Q"} from ${num(lo)} (red) through 0 (white) to ${num(hi)} (blue)`;
    this.drawTable(values, policy);
  },

  drawGraph(values, policy, lo, hi, agent) {
    const m = this.m, layout = this.base.layout;
    const cols = layout.columns, rows = Math.max(...layout.nodes.map((n) => n.row + 1));
    const W = Math.max(640, 210 * cols), H = Math.max(220, 120 * rows + 40), BW = 156, BH = 50;
    let root = $("w-svg");
    if (!root || root.dataset.model !== m.name + this.base.name) {
      root = svg("svg", {id: "w-svg", viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", class: "watch", "aria-label": "The workflow: states coloured by value, the agent's step highlighted"});
      root.dataset.model = m.name + this.base.name;
      const pos = {};
      layout.nodes.forEach((n, s) => { pos[s] = {x: 16 + BW / 2 + (cols > 1 ? n.column / (cols - 1) : 0.5) * (W - 32 - BW), y: 10 + n.y * (H - 20)}; });
      this.pos = pos;
      const edges = svg("g", {class: "edges"});
      for (let k = 0; k < m.sa_action.length; k++) {
        const s = m.sa_state[k];
        for (let j = m.out_ptr[k]; j < m.out_ptr[k + 1]; j++) {
          const a = pos[s], b = pos[m.out_next[j]];
          const lane = j - m.out_ptr[k] + (k - m.sa_ptr[s]) * 0.6;
          const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
          const bend = 18 * lane;
          const c = {x: (a.x + b.x) / 2 - dy / len * bend, y: (a.y + b.y) / 2 + dx / len * bend};
          edges.append(svg("path", {d: `M${a.x},${a.y} Q${c.x},${c.y} ${b.x},${b.y}`, class: "w-edge", "data-pair": k, "data-outcome": j}));
        }
      }
      const nodes = svg("g", {class: "nodes"});
      layout.nodes.forEach((n, s) => {
        const p = pos[s];
        const g = svg("g", {class: "w-node", "data-state": m.state_names[s], tabindex: 0});
        g.append(svg("rect", {x: p.x - BW / 2, y: p.y - BH / 2, width: BW, height: BH, rx: 9}));
        g.append(svg("text", {x: p.x, y: p.y - 6, "text-anchor": "middle", class: "name"}, m.state_names[s]));
        g.append(svg("text", {x: p.x, y: p.y + 13, "text-anchor": "middle", class: "value"}, ""));
        g.addEventListener("click", () => { this.selected = s; this.draw(); });
        nodes.append(g);
      });
      root.append(edges, nodes);
      $("w-diagram").replaceChildren(root);
    }
    const nodes = root.querySelectorAll(".w-node");
    nodes.forEach((g, s) => {
      g.querySelector("rect").setAttribute("fill", m.ends[s] ? "#f1f5f9" : valueColour(values[s], lo, hi));
      const label = $("w-view").value === "planning" ? "V" : "max Q";
      g.querySelector(".value").textContent = m.ends[s] ? "end" : `${label} = ${num(values[s])}` + (policy[s] >= 0 ? ` · ${m.action_names[m.sa_action[policy[s]]]}` : "");
      g.classList.toggle("selected", s === this.selected);
      g.classList.toggle("agent", !!agent && s === agent.next);
      g.classList.toggle("from", !!agent && s === agent.state);
    });
    root.querySelectorAll(".w-edge").forEach((e) => {
      const k = Number(e.dataset.pair), j = Number(e.dataset.outcome);
      e.classList.toggle("policy", policy[m.sa_state[k]] === k);
      e.classList.toggle("sampled", !!agent && agent.outcome === j);
    });
  },

  drawGrid(values, lo, hi, agent) {
    const m = this.m, n = m.state_names.length, cols = Math.ceil(Math.sqrt(n * 2)), rows = Math.ceil(n / cols), C = 14;
    let root = $("w-svg");
    if (!root || root.dataset.model !== m.name + this.base.name) {
      root = svg("svg", {id: "w-svg", viewBox: `0 0 ${cols * C} ${rows * C}`, width: "100%", role: "img", class: "watch grid", "aria-label": `${n} states coloured by value; click one to select it`});
      root.dataset.model = m.name + this.base.name;
      for (let s = 0; s < n; s++) {
        const r = svg("rect", {x: (s % cols) * C, y: Math.floor(s / cols) * C, width: C - 1, height: C - 1, class: "w-cell"});
        r.append(svg("title", {}, m.state_names[s]));
        r.addEventListener("click", () => { this.selected = s; this.draw(); });
        root.append(r);
      }
      $("w-diagram").replaceChildren(root);
    }
    const cells = root.children;
    for (let s = 0; s < n; s++) {
      const r = cells[s];
      r.setAttribute("fill", m.ends[s] ? "#e2e8f0" : valueColour(values[s], lo, hi));
      r.classList.toggle("selected", s === this.selected);
      r.classList.toggle("agent", !!agent && (s === agent.next || s === agent.state));
    }
  },

  // The neighbourhood table: the selected (or the agent's) state, its actions, Q and outcomes.
  drawTable(values, policy) {
    const m = this.m;
    const s = this.lastStep && $("w-view").value === "learning" && !this.m.ends[this.learner.state] && this.learner.state >= 0 ? this.learner.state : (this.selected === null ? m.start : this.selected);
    const q = $("w-view").value === "planning" ? Engine.qValues(m, this.V, this.gamma()) : Array.from(this.learner.q, (_, k) => this.learner.value(k));
    const rows = [];
    for (let k = m.sa_ptr[s]; k < m.sa_ptr[s + 1]; k++) {
      const outs = [];
      for (let j = m.out_ptr[k]; j < m.out_ptr[k + 1]; j++) outs.push(`${m.state_names[m.out_next[j]]} p=${Number(m.out_prob[j].toPrecision(4))} r=${Number(m.out_reward[j].toPrecision(5))}`);
      rows.push(el("tr", {class: policy[s] === k ? "winner" : ""}, [el("td", {text: m.action_names[m.sa_action[k]]}), el("td", {class: "num", text: num(q[k])}), el("td", {text: outs.join("; ")})]));
    }
    $("w-state").textContent = `${m.state_names[s]}: ${$("w-view").value === "planning" ? "V" : "max Q"} = ${num(values[s])}`;
    $("w-table").querySelector("tbody").replaceChildren(...rows);
  },

  init() {
    const models = $("w-model");
    const fromEditor = sessionStorage.getItem("accessrl-watch-text");
    if (fromEditor !== null && new URLSearchParams(location.search).get("from") === "editor") {
      models.append(el("option", {value: "editor", text: "the editor's workflow"}));
      models.value = "editor";
    }
    const load = () => this.load(models.value === "editor" ? {text: sessionStorage.getItem("accessrl-watch-text") || ""} : {name: models.value});
    models.addEventListener("change", load);
    for (const id of ["w-epsilon", "w-gamma", "w-abandon", "w-step", "w-omega", "w-alpha", "w-speed", "w-algorithm"]) $(id).addEventListener("input", () => this.applyControls(false));
    $("w-view").addEventListener("change", () => this.draw());
    $("w-seed").addEventListener("change", () => { this.resetLearning(); this.draw(); });
    $("w-backup").addEventListener("click", () => { $("w-view").value = "planning"; this.backup(); });
    $("w-sweep").addEventListener("click", () => { $("w-view").value = "planning"; this.sweep(); });
    $("w-evaluate").addEventListener("click", () => { $("w-view").value = "planning"; this.evaluateStep(); });
    $("w-improve").addEventListener("click", () => { $("w-view").value = "planning"; this.improve(); });
    $("w-reset-v").addEventListener("click", () => { this.resetPlanning(); this.draw(); });
    $("w-step-btn").addEventListener("click", () => { $("w-view").value = "learning"; this.stepAgent(); });
    $("w-episode").addEventListener("click", () => {
      $("w-view").value = "learning";
      let recs = this.learner.finishEpisode();
      if (!recs.length) recs = [this.learner.step(), ...this.learner.finishEpisode()];
      this.lastStep = recs[recs.length - 1]; this.showUpdate(this.lastStep); this.draw({agent: this.lastStep});
    });
    $("w-play").addEventListener("click", () => { $("w-view").value = "learning"; if (this.timer) this.pause(); else this.play(); });
    $("w-reset-q").addEventListener("click", () => { this.resetLearning(); this.draw(); });
    return load();
  },
};

window.AccessrlWatch = {prng, listDraws, Engine, Learner, Watch, withAbandonment};
if (document.body && document.body.dataset.page === "watch") Watch.init();
