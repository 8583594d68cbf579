import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { inject } from "vitest";

/** PostgreSQL server on which tests create their own databases. */
export const adminURL = process.env.WEBHOST_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

/** One API key of the key file, in plain text (only its SHA-256 goes to the file). */
export interface TestKey {
  keyId: string;
  customerId: string;
  token: string;
  scopes: string[];
}

/** Makes a fresh API key: "whs_live_" + 32 random bytes in hex. */
export function newKey(customerId: string, scopes: string[] = ["read", "write"]): TestKey {
  return {
    keyId: `key_${randomBytes(6).toString("hex")}`,
    customerId,
    token: `whs_live_${randomBytes(32).toString("hex")}`,
    scopes,
  };
}

/** Creates a fresh database and returns its URL. */
export async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `sdkjs_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminURL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminURL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminURL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Runs SQL against a test database (e.g. to bump the row-sync epoch). */
export async function sql(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A real `webhost sync` server on a free port, with its own database and key
 * file. restart() keeps the port (clients reconnect to the same URL);
 * setKeys() rewrites the key file, which takes effect at the next restart
 * (that is how a key is revoked on a key-file server).
 */
export class SyncServer {
  readonly port: number;
  readonly databaseURL: string;
  readonly url: string;
  readonly keys: TestKey[];
  #dir: string;
  #proc: ChildProcess | null = null;
  #drop: () => Promise<void>;
  #log: string[] = [];
  #env: Record<string, string> = {};

  private constructor(port: number, db: { url: string; drop: () => Promise<void> }, keys: TestKey[]) {
    this.port = port;
    this.databaseURL = db.url;
    this.#drop = db.drop;
    this.url = `http://127.0.0.1:${port}`;
    this.keys = keys;
    this.#dir = mkdtempSync(join(tmpdir(), "webhost-sync-"));
    this.setKeys(keys);
  }

  /** Starts a server with one write key per tenant given. */
  static async start(keys: TestKey[], env: Record<string, string> = {}): Promise<SyncServer> {
    const db = await createDatabase();
    const s = new SyncServer(await freePort(), db, keys);
    s.#env = env;
    await s.#spawn();
    return s;
  }

  get keysFile(): string {
    return join(this.#dir, "keys.json");
  }

  setKeys(keys: TestKey[]): void {
    const file = keys.map((k) => ({
      key_id: k.keyId,
      customer_id: k.customerId,
      key_sha256: createHash("sha256").update(k.token).digest("hex"),
      scopes: k.scopes,
    }));
    writeFileSync(this.keysFile, JSON.stringify(file, null, 2));
  }

  async #spawn(): Promise<void> {
    const bin = inject("webhostBinary");
    const proc = spawn(bin, ["sync", "--addr", `127.0.0.1:${this.port}`, "--database-url", this.databaseURL, "--keys-file", this.keysFile], {
      env: {
        ...process.env,
        WEBHOST_LOG_LEVEL: "warn",
        WEBHOST_ROWS_PUSHES_PER_SECOND: "1000",
        WEBHOST_ROWS_PUSH_BURST: "1000",
        ...this.#env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.#proc = proc;
    proc.stderr?.on("data", (b: Buffer) => {
      this.#log.push(b.toString());
      if (this.#log.length > 200) this.#log.shift();
    });
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => reject(new Error(`webhost sync exited with ${code}: ${this.#log.join("")}`))),
    );
    exited.catch(() => {});
    for (let i = 0; i < 400; i++) {
      const ok = await Promise.race([
        fetch(`${this.url}/healthz`).then((r) => r.ok, () => false),
        exited,
      ]);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`webhost sync did not become healthy: ${this.#log.join("")}`);
  }

  /** Stops the process (SIGTERM, then SIGKILL) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const proc = this.#proc;
    this.#proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill(signal);
    const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await done;
    clearTimeout(t);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn();
  }

  get running(): boolean {
    return this.#proc !== null;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.#drop().catch(() => {});
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
