import { defineConfig } from "vitest/config"

// `npm run test:load`: the heavy cases (10,000 open/close cycles, 1,000 concurrent sessions), one file at a time,
// with the GC exposed so that heap growth is measured after a full collection.
export default defineConfig({
  test: {
    include: ["test/load/**/*.test.ts"],
    pool: "forks",
    poolOptions: { forks: { execArgv: ["--expose-gc"], singleFork: true } },
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 60_000
  }
})
