import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import WebSocket from "ws";
import { eventually } from "./helpers.js";
import { newKey, SyncServer } from "./server.js";

const key = newKey("cust_readme");
let server: SyncServer;
const dir = resolve(__dirname, "../.readme-test");
const opened: { close(): void }[] = [];

beforeAll(async () => {
  server = await SyncServer.start([key]);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The quick-start block of README.md, exactly as published but for the URL and key. */
function quickStart(): string {
  const readme = readFileSync(resolve(__dirname, "../README.md"), "utf8");
  const m = /<!-- quickstart[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error("README.md has no quickstart block");
  const code = m[1]!;
  const url = /^const apiUrl = "[^"]*";.*$/m;
  const apiKey = /^const apiKey = "[^"]*";.*$/m;
  expect(code).toMatch(url);
  expect(code).toMatch(apiKey);
  return code
    .replace(url, `const apiUrl = ${JSON.stringify(server.url)};`)
    .replace(apiKey, `const apiKey = ${JSON.stringify(key.token)};`);
}

test("the README's quick start runs and device B observes A's changes", async () => {
  // Node 20 has no global WebSocket; the browser snippet relies on one.
  vi.stubGlobal("WebSocket", WebSocket);
  const lines: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  });
  try {
    mkdirSync(dir, { recursive: true });
    const file = resolve(dir, "quickstart.ts");
    // Appended so the test can close both devices afterwards.
    writeFileSync(file, `${quickStart()}\nexport { a, b };\n`);
    const mod = (await import(/* @vite-ignore */ file)) as { a: { close(): void }; b: { close(): void } };
    opened.push(mod.a, mod.b);
    await eventually(() => {
      expect(lines).toContain("B sees posts: Hello from A");
      expect(lines).toContain('B sees vehicles: {"truck-1":{"plate":"B-WH 1","driver":"Ada"}}');
      expect(lines).toContain("B sees GPS positions: 1");
      expect(lines).toContain("A: synced 0 pending");
    });
  } finally {
    for (const c of opened.splice(0)) c.close();
    log.mockRestore();
    vi.unstubAllGlobals();
  }
});
