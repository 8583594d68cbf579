import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, test } from "vitest";

const run = promisify(execFile);
const root = resolve(__dirname, "..");
// Inside sdk-js, so the unpacked package resolves its dependencies from sdk-js/node_modules.
const dir = resolve(root, ".pack-test");

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("npm pack yields a publishable package: ESM + CJS + type declarations", async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // prepack builds dist/ with tsup.
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root, maxBuffer: 16 << 20 });
  // prepack's build log (tsup, with ANSI colour codes full of "[") comes
  // first on stdout; npm's JSON array starts on a line of its own.
  const jsonStart = stdout.search(/^\[\s*$/m);
  expect(jsonStart).toBeGreaterThanOrEqual(0);
  const [info] = JSON.parse(stdout.slice(jsonStart)) as { filename: string; files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path).sort();
  expect(files).toEqual(
    expect.arrayContaining(["README.md", "package.json", "dist/index.js", "dist/index.cjs", "dist/index.d.ts", "dist/index.d.cts"]),
  );
  expect(files.some((f) => f.startsWith("src/") || f.startsWith("test/") || f.includes("node_modules"))).toBe(false);

  await run("tar", ["-xzf", resolve(dir, info!.filename), "-C", dir]);
  const pkgDir = resolve(dir, "package");
  const pkg = JSON.parse(readFileSync(resolve(pkgDir, "package.json"), "utf8"));
  expect(pkg.name).toBe("@webhost.systems/client");
  expect(pkg.peerDependencies.dexie).toMatch(/^\^4/);
  expect(pkg.dependencies).toMatchObject({ yjs: "13.6.33", "y-websocket": "3.1.0", "y-indexeddb": "9.0.12" });

  const cjs = await run("node", ["-e", `const m = require(${JSON.stringify(pkgDir)}); console.log(typeof m.WebHostClient, typeof m.UnauthorizedError)`]);
  expect(cjs.stdout.trim()).toBe("function function");
  const esm = await run("node", [
    "--input-type=module",
    "-e",
    `const m = await import(${JSON.stringify(resolve(pkgDir, "dist/index.js"))}); console.log(typeof m.WebHostClient, typeof m.AutoIncrementKeyError)`,
  ]);
  expect(esm.stdout.trim()).toBe("function function");
  const dts = readFileSync(resolve(pkgDir, "dist/index.d.ts"), "utf8");
  expect(dts).toMatch(/declare class WebHostClient/);
  expect(dts).toMatch(/interface WebHostDoc extends Y\.Doc/);
}, 180_000);
