#!/usr/bin/env node
// npm run gen:api — regenerates src/api/schema.gen.ts from the OpenAPI
// document of the real control plane: builds ./cmd/webhost (or uses
// WEBHOST_TEST_BINARY), starts `webhost serve` on a fresh database, reads
// /openapi.json and runs openapi-typescript. `--spec file.json` uses a saved
// document instead.
import { readFileSync, writeFileSync } from "node:fs";
import { buildWebhost, fetchSpec, generatedFile, generateTypes, startControlPlane } from "./openapi.mjs";

const i = process.argv.indexOf("--spec");
let spec;
if (i > 0) {
  spec = JSON.parse(readFileSync(process.argv[i + 1], "utf8"));
} else {
  const built = process.env.WEBHOST_TEST_BINARY ? { bin: process.env.WEBHOST_TEST_BINARY, cleanup() {} } : await buildWebhost();
  const cp = await startControlPlane(built.bin);
  try {
    spec = await fetchSpec(cp.url);
  } finally {
    await cp.stop();
    built.cleanup();
  }
}
writeFileSync(generatedFile, await generateTypes(spec));
console.log(`wrote ${generatedFile}`);
