import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schedule, Stream } from "effect"
import { TestEngine, WebSockets } from "../../src/index.js"
import { measured } from "../hostile/measure.js"

const WARM_UP = 300
const CONNECTIONS = 2_000
/**
 * Heap a reconnecting session may keep beyond what as many plain sessions keep on the same engine, over 2,000
 * connections: keeping each ended connection (a session and its fibers, KiBs each) would exceed it.
 */
const EXTRA_BOUND = 2 * 1024 * 1024

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with --expose-gc (vitest.load.config.ts sets it)")
  collect()
  collect()
}

const pause = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))

/** Runs `warmUp`, then measures the heap growth over `measured` (after full collections). */
const growthOver = <E, R>(warmUp: Effect.Effect<unknown, E, R>, run: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    yield* warmUp
    yield* pause
    gc()
    const before = process.memoryUsage().heapUsed
    yield* run
    yield* pause
    gc()
    return process.memoryUsage().heapUsed - before
  })

/** A server whose every connection sends one message and drops. */
const flakyServer = () =>
  WebSockets.layer().pipe(Layer.provideMerge(TestEngine.layer({
    handler: (server) => Effect.zipRight(server.send("hello"), server.drop)
  })))

describe("load: a reconnecting session keeps nothing of its past connections", () => {
  it(
    "L.R2 2,000 reconnects of one session keep no more heap than 2,000 plain sessions on the same engine",
    async () => {
      const started = performance.now()
      const plainSession = Effect.scoped(
        Effect.flatMap(WebSockets.webSocketSession("ws://flaky.test/"), (s) => s.receive)
      )
      const plain = await Effect.runPromise(
        growthOver(Effect.repeatN(plainSession, WARM_UP - 1), Effect.repeatN(plainSession, CONNECTIONS - 1)).pipe(
          Effect.provide(flakyServer())
        )
      )
      const reconnecting = await Effect.runPromise(
        Effect.gen(function*() {
          const session = yield* WebSockets.reconnecting("ws://flaky.test/", { schedule: Schedule.spaced("1 millis") })
          // one message per connection: taking n messages means n connections came and went
          const connections = (n: number) => Stream.runDrain(Stream.take(session.incoming, n))
          return yield* growthOver(connections(WARM_UP), connections(CONNECTIONS))
        }).pipe(Effect.scoped, Effect.provide(flakyServer()))
      )
      const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`
      measured(
        "L.R2",
        `heap growth over ${CONNECTIONS} connections: plain sessions ${kib(plain)}, one reconnecting session ` +
          `${kib(reconnecting)} (${((performance.now() - started) / 1000).toFixed(1)} s)`
      )
      expect(reconnecting - plain).toBeLessThan(EXTRA_BOUND)
    },
    120_000
  )
})
