// The studio's code editor: CodeMirror 6 with Python and YAML, behind a tiny stable API.
//
//   const ed = AccessRLEditor.create(element, {doc, language: "python" | "yaml", readOnly, onChange});
//   ed.getValue(); ed.setValue(text); ed.markError(line, message); ed.clearErrors(); ed.focus(); ed.destroy();
//   ed.view  // the CodeMirror EditorView, for tests and advanced use (not part of the stable API)
//
// Lines are 1-based, as in Python tracebacks and YAML parser messages.
import {EditorState, Compartment} from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars,
} from "@codemirror/view";
import {defaultKeymap, history, historyKeymap, indentWithTab} from "@codemirror/commands";
import {
  syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching, indentUnit,
} from "@codemirror/language";
import {python} from "@codemirror/lang-python";
import {yaml} from "@codemirror/lang-yaml";
import {setDiagnostics, lintGutter} from "@codemirror/lint";

const LANGUAGES = {python, yaml};

function language(name) {
  const make = LANGUAGES[name || "python"];
  if (!make) throw new Error(`AccessRLEditor: language must be "python" or "yaml", got ${JSON.stringify(name)}`);
  return make();
}

function create(element, options = {}) {
  if (!(element instanceof Element)) throw new Error("AccessRLEditor.create: expected a DOM element");
  const {doc = "", readOnly = false, onChange = null} = options;
  const lang = new Compartment();
  const ro = new Compartment();
  const errors = [];
  const view = new EditorView({
    parent: element,
    state: EditorState.create({
      doc: String(doc),
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        indentUnit.of("    "),
        EditorState.tabSize.of(4),
        bracketMatching(),
        highlightActiveLine(),
        syntaxHighlighting(defaultHighlightStyle, {fallback: true}),
        lintGutter(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        lang.of(language(options.language)),
        ro.of([EditorState.readOnly.of(!!readOnly), EditorView.editable.of(!readOnly)]),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && typeof onChange === "function") onChange(update.state.doc.toString());
        }),
        EditorView.theme({
          "&": {fontSize: "14px", border: "1px solid #bbb", borderRadius: "4px"},
          ".cm-content": {fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"},
          ".cm-gutters": {fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"},
          ".cm-scroller": {minHeight: "8em"},
        }),
      ],
    }),
  });

  function publish() {
    view.dispatch(setDiagnostics(view.state, errors.slice()));
  }

  return {
    view,
    getValue() {
      return view.state.doc.toString();
    },
    setValue(text) {
      errors.length = 0;
      view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: String(text)}});
      publish();
    },
    markError(line, message) {
      const n = Math.min(Math.max(1, Math.floor(Number(line)) || 1), view.state.doc.lines);
      const l = view.state.doc.line(n);
      errors.push({from: l.from, to: l.to, severity: "error", message: String(message)});
      publish();
    },
    clearErrors() {
      errors.length = 0;
      publish();
    },
    setLanguage(name) {
      view.dispatch({effects: lang.reconfigure(language(name))});
    },
    setReadOnly(flag) {
      view.dispatch({effects: ro.reconfigure([EditorState.readOnly.of(!!flag), EditorView.editable.of(!flag)])});
    },
    focus() {
      view.focus();
    },
    destroy() {
      view.destroy();
    },
  };
}

export {create};
export const version = "1";
