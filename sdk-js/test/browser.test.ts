import { existsSync, readFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
// @ts-expect-error: plain ESM build script without type declarations
import { buildTodo } from "../examples/todo/build.mjs";
import { newKey, SyncServer } from "./server.js";

const CHROMIUM = "/usr/bin/chromium";
const strict = process.env.WEBHOST_TEST_STRICT === "1";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const msg = `${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (scripts/ci.d/sdk.sh does)`;
  if (strict) throw new Error(msg);
  console.warn(`skipping the browser test: ${msg}`);
}

let server: SyncServer;
let web: Server;
let origin: string;
let browser: Browser;
let outdir: string;
const key = newKey("cust_browser");

/**
 * Serves the bundled example and proxies /v1/* and /sync/* (HTTP and
 * WebSocket upgrades) to the Go sync server, so the app and its API share
 * an origin, as behind a reverse proxy.
 */
function startWeb(dir: string, target: number): Promise<Server> {
  const files: Record<string, [string, string]> = {
    "/": ["index.html", "text/html"],
    "/index.html": ["index.html", "text/html"],
    "/app.js": ["app.js", "text/javascript"],
    "/app.js.map": ["app.js.map", "application/json"],
  };
  const srv = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path.startsWith("/v1/") || path.startsWith("/sync/") || path === "/healthz") {
      const up = request({ host: "127.0.0.1", port: target, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on("error", () => {
        res.writeHead(502).end();
      });
      req.pipe(up);
      return;
    }
    const f = files[path];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": f[1] });
    res.end(readFileSync(join(dir, f[0])));
  });
  srv.on("upgrade", (req, socket, head) => {
    const up = connect(target, "127.0.0.1", () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(raw + "\r\n");
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve(srv)));
}

beforeAll(async () => {
  if (!haveChromium) return;
  outdir = mkdtempSync(join(tmpdir(), "webhost-todo-"));
  await buildTodo(outdir);
  server = await SyncServer.start([key]);
  web = await startWeb(outdir, server.port);
  origin = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (web ? web.close(r) : r(undefined)));
  await server?.close();
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

async function items(page: Page): Promise<string[]> {
  return page.$$eval("#list li", (lis) => lis.map((li) => `${li.querySelector("input")!.checked ? "[x]" : "[ ]"} ${li.querySelector("span")!.textContent}`));
}

async function add(page: Page, text: string) {
  await page.fill("#text", text);
  await page.click("#add button");
  await page.waitForSelector(`#list li span:text-is("${text}")`);
}

test.skipIf(!haveChromium)("to-do app: two browsers converge after one edits offline", async () => {
  const contexts: BrowserContext[] = [await browser.newContext(), await browser.newContext()];
  const [a, b] = await Promise.all(contexts.map((c) => c.newPage()));
  const errors: string[] = [];
  for (const p of [a!, b!]) p.on("pageerror", (e) => errors.push(e.message));
  const url = `${origin}/?key=${encodeURIComponent(key.token)}`;
  await Promise.all([a!.goto(url), b!.goto(url)]);
  await a!.waitForSelector('#status[data-phase="synced"]');
  await b!.waitForSelector('#status[data-phase="synced"]');

  await add(a!, "buy milk");
  await b!.waitForSelector('#list li span:text-is("buy milk")');

  // A goes offline, edits, and its changes wait in the outbox.
  await contexts[0]!.setOffline(true);
  await add(a!, "walk the dog");
  await a!.click('#list li:has(span:text-is("buy milk")) input[type=checkbox]');
  await a!.waitForSelector('#status[data-phase="offline"][data-pending="2"]');
  // B edits meanwhile.
  await add(b!, "call mum");

  await contexts[0]!.setOffline(false);
  const want = ["[x] buy milk", "[ ] walk the dog", "[ ] call mum"].sort();
  await expect.poll(async () => (await items(a!)).sort(), { timeout: 20_000 }).toEqual(want);
  await expect.poll(async () => (await items(b!)).sort(), { timeout: 20_000 }).toEqual(want);
  await a!.waitForSelector('#status[data-phase="synced"][data-pending="0"]');
  // SDK_TODO_SCREENSHOT=<file.png> saves what device B shows, for a look by eye.
  if (process.env.SDK_TODO_SCREENSHOT) await b!.screenshot({ path: process.env.SDK_TODO_SCREENSHOT });
  expect(errors).toEqual([]);
  for (const c of contexts) await c.close();
});
