// The LLM page: the token MDP of one request, the reward model's scores, a quick run (polled), one question.
// Uses studio.js's helpers (api, fillTable, lineChart, svg, fmt), which are loaded by the time the page is ready.
document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.page !== "llm") return;
  const $ = (id) => document.getElementById(id);

  function drawPath(data) {
    const W = 760, rowH = 44, H = rowH * (data.steps.length + 1) + 10;
    const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": "token MDP path"});
    data.steps.forEach((s, i) => {
      const y = 8 + i * rowH;
      const prefix = s.state.slice(5).join(" ");
      root.append(svg("rect", {x: 4, y, width: 420, height: 28, rx: 6, class: "mdp-state", fill: "#eef3fb", stroke: "#4a6fa5"}));
      root.append(svg("text", {x: 12, y: y + 18, class: "mdp-state-text"}, `s${i}: prompt` + (prefix ? " + " + prefix : "")));
      root.append(svg("line", {x1: 424, y1: y + 14, x2: 470, y2: y + 14, stroke: "#444"}));
      root.append(svg("text", {x: 476, y: y + 18, class: "mdp-action"}, `a${i} = ${s.action}`));
      root.append(svg("text", {x: 660, y: y + 18, class: "mdp-reward"}, `r = ${fmt(s.reward, 2)}`));
    });
    const y = 8 + data.steps.length * rowH;
    root.append(svg("rect", {x: 4, y, width: 420, height: 28, rx: 6, fill: "#f4f4f4", stroke: "#888"}));
    root.append(svg("text", {x: 12, y: y + 18}, "terminal: response ended by <eos>"));
    $("mdp-diagram").replaceChildren(root);
    $("mdp-note").textContent = `Prompt: ${data.prompt.join(" ")}. At every state the ${data.actions.length} actions are: ` +
      `${data.actions.join(", ")}. The rule wants ${data.correct}; this demonstrator's response earns a true reward of ${fmt(data.true_reward, 2)}, ` +
      "paid at the last step (every earlier step pays 0, or -beta times the KL term with a penalty).";
  }

  async function showMdp() {
    const data = await api(`/api/llm/mdp/${$("llm-prompt").value}`);
    if (data) drawPath(data);
  }

  function showRun(run) {
    $("run-status").textContent = `Policy of ${run.n_params} parameters, RLOO, seed ${run.seed}; the reward model agrees with ` +
      `${fmt(100 * run.reward_model.true_agreement, 1)}% of held-out true-reward comparisons.`;
    $("rm-note").textContent = `Request: ${run.candidates.prompt}.`;
    fillTable("rm-table", run.candidates.rows.map((r) => [r.label, r.response, fmt(r.proxy, 2), fmt(r.true, 2)]));
    const colours = ["#c0392b", "#2e86c1", "#27ae60"];
    for (const [id, key, label] of [["proxy-chart", "proxy", "proxy reward"], ["true-chart", "true", "true reward"]]) {
      lineChart($(id), {xLabel: "KL(pi || pi_ref), nats per response", yLabel: label,
        series: run.runs.map((r, i) => {
          const h = [...r.history].sort((a, b) => a.kl - b.kl);
          return {name: `beta = ${r.beta}`, x: h.map((p) => p.kl), y: h.map((p) => p[key]), color: colours[i % 3]};
        })});
    }
    const row = (label, e) => [label, fmt(e.proxy_reward, 2), fmt(e.true_reward, 2), fmt(e.kl, 2), fmt(e.length, 2), fmt(e.repeats, 2), fmt(e.route_accuracy, 2)];
    fillTable("final-table", [row("reference (SFT)", run.reference), ...run.runs.map((r) => row(`beta = ${r.beta}`, r.final))]);
    const lines = [], n = run.samples[0].responses.length;
    for (let start = 0; start < n; start += 2) {
      lines.push(`prompt: ${run.samples[0].responses[start].prompt}`);
      for (const ps of run.samples) for (const r of ps.responses.slice(start, start + 2)) {
        lines.push(`  ${ps.policy.padEnd(10)} ${r.response}  (proxy ${fmt(r.proxy, 2)}, true ${fmt(r.true, 2)})`);
      }
    }
    $("samples").textContent = lines.join("\n");
    $("llm-question").textContent = run.question.prompt;
    $("llm-choices").replaceChildren(...run.question.choices.map((c, i) => el("label", {class: "choice"}, [
      el("input", {type: "radio", name: "llm-answer", value: String(i)}), document.createTextNode(" " + c)])));
    $("llm-check").disabled = false;
  }

  async function poll() {
    const data = await api("/api/llm/run");
    if (!data) { $("run-status").textContent = "The quick run could not run (see the message above)."; return; }
    if (data.status === "ready") { showRun(data); return; }
    setTimeout(poll, 1000);
  }

  $("llm-check").addEventListener("click", async () => {
    const picked = document.querySelector("input[name=llm-answer]:checked");
    if (!picked) { $("llm-feedback").textContent = "Pick an answer first."; return; }
    const res = await api("/api/llm/answer", {answer: Number(picked.value)});
    if (res) $("llm-feedback").textContent = (res.correct ? "Right. " : `Not quite: the answer is "${res.answer_text}". `) + res.explanation;
  });
  $("llm-prompt").addEventListener("change", showMdp);
  showMdp();
  poll();
});
