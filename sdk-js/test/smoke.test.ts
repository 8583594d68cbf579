import { afterAll, beforeAll, expect, test } from "vitest";
import { SyncServer, newKey } from "./server.js";
import { device, eventually } from "./helpers.js";

let server: SyncServer;
const key = newKey("cust_smoke");
beforeAll(async () => {
  server = await SyncServer.start([key]);
});
afterAll(async () => {
  await server?.close();
});

test("smoke", async () => {
  const a = device(server, key);
  const b = device(server, key);
  await a.db.posts.put({ id: "p1", title: "hello" });
  await a.sync();
  await eventually(async () => expect(await b.db.posts.get("p1")).toEqual({ id: "p1", title: "hello" }));
  a.close();
  b.close();
});
