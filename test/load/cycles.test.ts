import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { NodeEngine, WebSockets } from "../../src/index.js"
import { startEchoServerProcess } from "../hostile/child.js"
import { watchResources } from "../hostile/client.js"
import { measured } from "../hostile/measure.js"

const CYCLES = 10_000
const WARM_UP = 2_000
/** Heap growth allowed over 10,000 cycles: a leak of ~420 bytes per session would exceed it. */
const HEAP_BOUND = 4 * 1024 * 1024

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with --expose-gc (vitest.load.config.ts sets it)")
  collect()
  collect()
}

describe("load: sessions leave nothing behind", () => {
  it("L.1 10,000 sequential open/echo/close cycles leave no growth in active handles and heap", async () => {
    const server = await startEchoServerProcess()
    try {
      const live = WebSockets.layer({}).pipe(Layer.provide(NodeEngine.layer))
      const cycle = WebSockets.webSocket(server.url, (session) =>
        Effect.gen(function*() {
          yield* session.send("ping")
          const echo = yield* session.receive
          if (echo._tag !== "Text" || echo.data !== "ping") return yield* Effect.dieMessage("wrong echo")
        }))
      const run = (n: number) => Effect.runPromise(Effect.repeatN(cycle, n - 1).pipe(Effect.provide(live)))
      await run(WARM_UP)
      await new Promise((resolve) => setTimeout(resolve, 100))
      gc()
      const watch = watchResources()
      const heapBefore = process.memoryUsage().heapUsed
      const started = performance.now()
      await run(CYCLES)
      const elapsed = performance.now() - started
      const grownHandles = await watch.leaked()
      await new Promise((resolve) => setTimeout(resolve, 100))
      gc()
      const heapAfter = process.memoryUsage().heapUsed
      const heapGrowth = heapAfter - heapBefore
      measured(
        "L.1",
        `${CYCLES} cycles in ${(elapsed / 1000).toFixed(1)} s (${(elapsed / CYCLES).toFixed(2)} ms each); ` +
          `heap ${(heapBefore / 1048576).toFixed(1)} → ${(heapAfter / 1048576).toFixed(1)} MiB ` +
          `(${heapGrowth >= 0 ? "+" : ""}${(heapGrowth / 1024).toFixed(0)} KiB); ` +
          `handles left alive: ${JSON.stringify(grownHandles)}`
      )
      expect(grownHandles).toEqual({})
      expect(heapGrowth).toBeLessThan(HEAP_BOUND)
    } finally {
      await server.stop()
    }
  })
})
