import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { inject } from "vitest";
// @ts-expect-error: plain ESM helper without type declarations
import { fetchSpec, generatedFile, generateTypes, startControlPlane } from "../scripts/openapi.mjs";
import { ForbiddenError, NotFoundError, PayloadTooLargeError, RestClient, UnauthorizedError, WebHostClient } from "../src/index.js";

// The real control plane (`webhost serve` on a fresh database): the source
// of the OpenAPI document and the server the REST client talks to.
let cp: { url: string; stop: () => Promise<void> };
beforeAll(async () => {
  cp = await startControlPlane(inject("webhostBinary"));
});
afterAll(async () => {
  await cp?.stop();
});

test("src/api/schema.gen.ts matches the server's /openapi.json (run `npm run gen:api` when this fails)", async () => {
  const spec = await fetchSpec(cp.url);
  const fresh: string = await generateTypes(spec);
  const committed = readFileSync(generatedFile, "utf8");
  expect(committed, "src/api/schema.gen.ts is stale: run `npm run gen:api` in sdk-js and commit the result").toBe(fresh);
});

test("the REST client covers me, API keys, deployments and events, with typed errors", async () => {
  const suffix = Math.random().toString(36).slice(2, 8);
  const signup = await RestClient.signup(cp.url, {
    email: `ada-${suffix}@example.com`,
    name: "Ada Lovelace",
    slug: `ada-${suffix}`,
    plan: "hobby",
  });
  expect(signup.api_key).toMatch(/^whs_live_/);
  const client = new WebHostClient({ apiUrl: cp.url, apiKey: signup.api_key! });

  const me = await client.api.me({ minPosition: signup.position });
  expect(me.customer_id).toBe(signup.customer_id);
  expect(me.email).toBe(`ada-${suffix}@example.com`);

  const created = await client.api.apiKeys.create({ name: "read-only dashboard", scopes: ["read"] });
  expect(created.api_key).toMatch(/^whs_live_/);
  const keys = await client.api.apiKeys.list({ minPosition: created.position });
  expect(keys.map((k) => k.name).sort()).toContain("read-only dashboard");

  // A read-only key may read but not write: 403 with what to do.
  const reader = new WebHostClient({ apiUrl: cp.url, apiKey: created.api_key! });
  expect((await reader.api.me()).customer_id).toBe(signup.customer_id);
  const forbidden = await reader.api.apiKeys.create({ name: "nope", scopes: ["write"] }).catch((e: unknown) => e);
  expect(forbidden).toBeInstanceOf(ForbiddenError);
  expect((forbidden as ForbiddenError).hint).toMatch(/write/);

  const revoked = await client.api.apiKeys.revoke(created.id);
  const after = await client.api.apiKeys.list({ minPosition: revoked.position });
  expect(after.find((k) => k.id === created.id)?.revoked_at).toBeTruthy();
  // A revoked key: 401 that says to create a new key.
  const unauthorized = await reader.api.me().catch((e: unknown) => e);
  expect(unauthorized).toBeInstanceOf(UnauthorizedError);
  expect((unauthorized as UnauthorizedError).message).toMatch(/Create a new key/);

  expect(Array.isArray(await client.api.deployments.list())).toBe(true);
  await expect(client.api.deployments.get("00000000-0000-0000-0000-000000000000")).rejects.toBeInstanceOf(NotFoundError);

  const types: string[] = [];
  for await (const e of client.api.allEvents({ limit: 2 }, { minPosition: revoked.position })) types.push(e.type);
  expect(types).toContain("CustomerSignedUp");
  expect(types).toContain("APIKeyIssued");
  expect(types).toContain("APIKeyRevoked");

  // 413: a body over the server's limit.
  const tooLarge = await client.api.updateMe({ company: "x".repeat(3 << 20) }).catch((e: unknown) => e);
  expect(tooLarge).toBeInstanceOf(PayloadTooLargeError);
  expect((tooLarge as PayloadTooLargeError).status).toBe(413);
});
