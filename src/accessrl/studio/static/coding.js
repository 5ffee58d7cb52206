// accessrl studio: the code pages.  The editor is the vendored CodeMirror bundle (AccessRLEditor);
// Run and Check post the code to this server, which runs it in a sandboxed process and grades it
// with the library (accessrl.lesson.coding).  The first wrong sweep is drawn on the workflow with
// studio.js's drawDiagram: the learner's value beside the correct one.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const host = document.getElementById("code-editor");
  if (!host) return;
  const name = host.dataset.exercise;
  const starter = document.getElementById("starter").value;
  const key = "accessrl-code-" + name;
  const saved = window.localStorage ? localStorage.getItem(key) : null;
  const editor = AccessRLEditor.create(host, {
    doc: saved || starter, language: "python",
    onChange: (text) => { if (window.localStorage) localStorage.setItem(key, text); },
  });
  window.accessrlEditor = editor;  // for tests and the console
  const verdict = $("verdict"), feedback = $("feedback"), output = $("output");

  function busy(flag) { for (const id of ["run", "check", "reset"]) $(id).disabled = flag; }

  function drawDiff(d) {
    const title = $("diff-title"), note = $("diff-note"), box = $("diff-diagram");
    if (!d) { title.hidden = true; note.hidden = true; box.replaceChildren(); return; }
    title.hidden = false; note.hidden = false;
    note.textContent = `${d.model}, sweep ${d.sweep}: each box shows your value; ${d.state} is the first wrong state.`;
    drawDiagram(box, d.layout, {values: d.given, policy: null});
    const node = box.querySelector(`g.node[data-state="${CSS.escape(d.state)}"]`);
    if (!node) return;
    node.classList.add("wrong");
    const name = node.querySelector("text.name"), text = node.querySelector("text.value");
    const x = text.getAttribute("x"), y = Number(text.getAttribute("y"));  // the box is 52 high around y - 14
    name.setAttribute("y", y - 27);
    const given = d.given[d.state];
    text.setAttribute("y", y - 10);
    text.textContent = "yours " + (given === null ? "?" : fmt(given));
    node.append(svg("text", {x, y: y + 6, "text-anchor": "middle", class: "value correct"}, "correct " + fmt(d.expected[d.state])));
  }

  async function check() {
    busy(true);
    editor.clearErrors();
    verdict.textContent = "checking...";
    try {
      const r = await api(`/api/code/${name}/check`, {code: editor.getValue()});
      if (!r) { verdict.textContent = ""; return; }
      verdict.textContent = r.passed ? "passed" : "not yet";
      verdict.className = "verdict " + (r.passed ? "good" : "bad");
      feedback.hidden = false;
      feedback.textContent = r.lines.join("\n");
      output.textContent = r.output || "(nothing printed)";
      if (r.error_line) editor.markError(r.error_line, r.lines[0]);
      drawDiff(r.diagram);
    } finally { busy(false); }
  }

  async function run() {
    busy(true);
    editor.clearErrors();
    output.textContent = "running...";
    try {
      const r = await api(`/api/code/${name}/run`, {code: editor.getValue()});
      if (!r) { output.textContent = ""; return; }
      output.textContent = (r.output || "") + (r.failure ? (r.output ? "\n" : "") + r.failure : "") || "(nothing printed)";
      if (r.error_line) editor.markError(r.error_line, r.failure);
    } finally { busy(false); }
  }

  $("check").addEventListener("click", check);
  $("run").addEventListener("click", run);
  $("reset").addEventListener("click", () => { editor.setValue(starter); drawDiff(null); feedback.hidden = true; verdict.textContent = ""; });
});
