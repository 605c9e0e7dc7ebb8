import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import { NodeEngine, WebSockets } from "../../src/index.js"
import { startEchoServerProcess } from "../hostile/child.js"
import { watchResources } from "../hostile/client.js"
import { measured } from "../hostile/measure.js"

const SESSIONS = 1_000
const MESSAGES = 1_000
const encoder = new TextEncoder()
const decoder = new TextDecoder()

describe("load: many sessions at once", () => {
  it("L.2 1,000 concurrent sessions exchanging 1,000 messages each lose and reorder nothing", async () => {
    const server = await startEchoServerProcess()
    try {
      const watch = watchResources()
      const live = WebSockets.layer({}).pipe(Layer.provide(NodeEngine.layer))
      let open = 0
      let maxOpen = 0
      const program = Effect.gen(function*() {
        const allOpen = yield* Deferred.make<void>()
        // connections are opened 100 at a time (the listen backlog is finite); the exchange starts once all are open
        const connectSlots = yield* Effect.makeSemaphore(100)
        const oneSession = (id: number) =>
          Effect.scoped(
            Effect.gen(function*() {
              const session = yield* connectSlots.withPermits(1)(WebSockets.webSocketSession(server.url))
              open++
              maxOpen = Math.max(maxOpen, open)
              if (open === SESSIONS) yield* Deferred.succeed(allOpen, undefined)
              yield* Deferred.await(allOpen)
              const sender = yield* Effect.fork(
                Stream.range(0, MESSAGES - 1).pipe(
                  Stream.map((i) => (i % 2 === 0 ? `${id}:${i}` : encoder.encode(`${id}:${i}`))),
                  Stream.run(session.outgoing)
                )
              )
              // every echo must come back, in order, as the type it was sent as
              const received = yield* session.incoming.pipe(
                Stream.take(MESSAGES),
                Stream.runFold({ next: 0, bad: 0 }, (state, frame) => {
                  const i = state.next
                  const expected = `${id}:${i}`
                  const ok = i % 2 === 0
                    ? frame._tag === "Text" && frame.data === expected
                    : frame._tag === "Binary" && decoder.decode(frame.data) === expected
                  return { next: i + 1, bad: state.bad + (ok ? 0 : 1) }
                })
              )
              yield* Fiber.join(sender)
              open--
              return received
            })
          )
        return yield* Effect.forEach(Array.from({ length: SESSIONS }, (_, i) => i), oneSession, {
          concurrency: "unbounded"
        })
      })
      const started = performance.now()
      const results = await Effect.runPromise(program.pipe(Effect.provide(live)))
      const elapsed = performance.now() - started
      const total = results.reduce((sum, r) => sum + r.next, 0)
      const bad = results.reduce((sum, r) => sum + r.bad, 0)
      measured(
        "L.2",
        `${SESSIONS} sessions × ${MESSAGES} messages echoed (${total} received, ${bad} wrong or out of order) in ` +
          `${(elapsed / 1000).toFixed(1)} s (${Math.round((2 * total) / (elapsed / 1000))} messages/s both ways); ` +
          `${maxOpen} sessions open at once`
      )
      expect(maxOpen).toBe(SESSIONS)
      expect(total).toBe(SESSIONS * MESSAGES)
      expect(bad).toBe(0)
      expect(await watch.leaked()).toEqual({})
    } finally {
      await server.stop()
    }
  })
})
