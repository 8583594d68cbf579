import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // The README and the example import the package by name; tests run the source.
    alias: { "@webhost.systems/client": fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
  },
  test: {
    globalSetup: ["./test/global-setup.ts"],
    setupFiles: ["./test/setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two cores: at most two files (each with its own Go server) at a time.
    maxWorkers: 2,
  },
});
