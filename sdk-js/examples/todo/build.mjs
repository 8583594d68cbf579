// Bundles the example with esbuild into examples/todo/dist (index.html + app.js).
// The SDK is bundled from source (src/index.ts), so the example always runs
// the code under test.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export async function buildTodo(outdir = resolve(here, "dist")) {
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [resolve(here, "src/main.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile: resolve(outdir, "app.js"),
    alias: { "@webhost.systems/client": resolve(here, "../../src/index.ts") },
    sourcemap: true,
    logLevel: "warning",
  });
  copyFileSync(resolve(here, "index.html"), resolve(outdir, "index.html"));
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`built ${await buildTodo()}`);
}
