// Builds src/accessrl/studio/static/vendor/codemirror.js: one minified IIFE that defines the global
// AccessRLEditor, with every licence notice of the bundled packages kept at the top.
import {build} from "esbuild";
import {readFileSync, writeFileSync, readdirSync, existsSync} from "node:fs";
import {join, dirname} from "node:path";
import {fileURLToPath} from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "src", "accessrl", "studio", "static", "vendor");

const result = await build({
  entryPoints: [join(here, "src", "index.js")],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "AccessRLEditor",
  target: ["es2020"],
  legalComments: "none",
  metafile: true,
  write: false,
});

// The packages that ended up in the bundle, with their versions and licence texts.
const used = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) used.add(m[1]);
}
const names = [...used].sort();
const header = [];
const notices = [];
for (const name of names) {
  const dir = join(here, "node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  header.push(`${name}@${pkg.version} (${pkg.license})`);
  const lic = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  notices.push(`== ${name}@${pkg.version} (${pkg.license}) ==\n\n` +
    (lic ? readFileSync(join(dir, lic), "utf8").trim() : `licence: ${pkg.license} (no licence file in the package)`));
}
const code = new TextDecoder().decode(result.outputFiles[0].contents);
const banner = "/*! accessrl studio editor: CodeMirror 6 bundle, built by tools/editor/build.mjs.\n" +
  " * Bundled packages (licence texts in LICENSES.txt beside this file):\n" +
  header.map((h) => ` *   ${h}`).join("\n") + "\n */\n";
if (!existsSync(out)) throw new Error(`missing ${out}`);
writeFileSync(join(out, "codemirror.js"), banner + code);
writeFileSync(join(out, "LICENSES.txt"), notices.join("\n\n") + "\n");
console.log(`wrote ${join(out, "codemirror.js")} (${(banner + code).length} bytes, ${names.length} packages)`);
