import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

const run = promisify(execFile);

/** Builds the Go server once for every test file: go build -o <tmp>/webhost ./cmd/webhost. */
export default async function setup(project: TestProject) {
  // A prebuilt binary (WEBHOST_TEST_BINARY) skips the build, e.g. one built
  // from a clean checkout while the work tree is mid-edit.
  const prebuilt = process.env.WEBHOST_TEST_BINARY;
  if (prebuilt) {
    project.provide("webhostBinary", resolve(prebuilt));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "webhost-sdk-"));
  const bin = join(dir, "webhost");
  const root = resolve(__dirname, "../..");
  try {
    await run("go", ["build", "-o", bin, "./cmd/webhost"], {
      cwd: root,
      env: { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH ?? ""}` },
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`go build ./cmd/webhost failed (Go 1.26 must be installed): ${e.stderr ?? e.message}`);
  }
  project.provide("webhostBinary", bin);
  return () => rmSync(dir, { recursive: true, force: true });
}

declare module "vitest" {
  export interface ProvidedContext {
    webhostBinary: string;
  }
}
