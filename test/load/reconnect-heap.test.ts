import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schedule, Stream } from "effect"
import { TestEngine, WebSockets } from "../../src/index.js"
import { measured } from "../hostile/measure.js"

const WARM_UP = 300
const RECONNECTS = 2_000
/** Heap growth allowed over 2,000 reconnects: keeping each old connection (a session, its fibers: KiBs) would exceed it. */
const HEAP_BOUND = 2 * 1024 * 1024

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with --expose-gc (vitest.load.config.ts sets it)")
  collect()
  collect()
}

describe("load: a reconnecting session keeps nothing of its past connections", () => {
  it("L.R2 2,000 reconnects of one session leave the heap flat", async () => {
    let heapBefore = 0
    const program = Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting("ws://flaky.test/", { schedule: Schedule.spaced("1 millis") })
      // every connection sends one message and drops: count them until `n` more have come
      let seen = 0
      const reach = (n: number) => Stream.runDrain(Stream.take(session.incoming, n)).pipe(Effect.tap(() => seen += n))
      yield* reach(WARM_UP)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      gc()
      heapBefore = process.memoryUsage().heapUsed
      yield* reach(RECONNECTS)
      expect(seen).toBe(WARM_UP + RECONNECTS)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      gc()
    }).pipe(
      Effect.scoped,
      Effect.provide(WebSockets.layer().pipe(Layer.provideMerge(TestEngine.layer({
        handler: (server) => Effect.zipRight(server.send("hello"), server.drop)
      }))))
    )
    const started = performance.now()
    await Effect.runPromise(program)
    const elapsed = performance.now() - started
    const growth = process.memoryUsage().heapUsed - heapBefore
    measured(
      "L.R2",
      `${WARM_UP + RECONNECTS} reconnects in ${(elapsed / 1000).toFixed(1)} s; heap growth over the last ${RECONNECTS}: ` +
        `${(growth / 1024).toFixed(0)} KiB`
    )
    expect(growth).toBeLessThan(HEAP_BOUND)
  }, 120_000)
})
