// Builds the page's static assets into OUT (default ../build/web): copies src/ and wavesurfer.js
// (from node_modules, pinned by package-lock.json), names every asset after its content hash
// and rewrites the references, so msaas-api can let browsers cache them forever while
// index.html (never cached) always points at the current ones.
// Usage: node web/build.mjs [OUT]
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, "..", "build", "web");
const sources = { "wavesurfer.js": join(here, "node_modules/wavesurfer.js/dist/wavesurfer.esm.js") };
for (const name of readdirSync(join(here, "src"))) sources[name] = join(here, "src", name);

const text = Object.fromEntries(
  Object.entries(sources).map(([name, path]) => [name, readFileSync(path, "utf8")]),
);
const references = (body) => [...body.matchAll(/["']\.\/([\w.-]+\.(?:js|css))["']/g)].map((m) => m[1]);
const hashed = {};

// Leaves first: a file is named once everything it refers to has its final name.
function finalName(name, seen = new Set()) {
  if (hashed[name]) return hashed[name];
  if (seen.has(name)) throw new Error(`circular reference through ${name}`);
  seen.add(name);
  let body = text[name];
  for (const ref of references(body)) {
    if (!(ref in text)) throw new Error(`${name} refers to missing ${ref}`);
    body = body.replaceAll(`./${ref}`, `./${finalName(ref, seen)}`);
  }
  text[name] = body;
  if (name === "index.html") return (hashed[name] = name);
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 10);
  const dot = name.lastIndexOf(".");
  return (hashed[name] = `${name.slice(0, dot)}.${hash}${name.slice(dot)}`);
}

const staging = `${out}.tmp`;
rmSync(staging, { recursive: true, force: true });
mkdirSync(join(staging, "assets"), { recursive: true });
finalName("index.html");
for (const [name, final] of Object.entries(hashed)) {
  if (name === "index.html") continue;
  writeFileSync(join(staging, "assets", final), text[name]);
}
// The page refers to assets/ from the site root.
writeFileSync(join(staging, "index.html"), text["index.html"].replaceAll('"./', '"/assets/'));
rmSync(out, { recursive: true, force: true });
renameSync(staging, out);
console.log(`web: ${Object.keys(hashed).length} files -> ${out}`);
