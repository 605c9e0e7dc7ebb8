/**
 * This library, used the way its README shows: `WebSockets.webSocket` over `NodeEngine.layer`, `incoming` as a
 * Stream (`incomingChunked` where it is read to its end), `send` / `receive`, and `sendSerialized` /
 * `receiveDeserialized` with `Converter.json`.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { WebSockets as WebSocketsModule } from "../../src/index.js"
import { blobs, type Jobs, Message, messages, sizeOf, startMeasure, texts } from "../common.js"

// bench/run.ts points BENCH_LIBRARY at the library compiled by `tsc` (what the package ships); without it, the
// sources are loaded through tsx, whose `keepNames` transform costs every closure created at run time a
// `defineProperty` call.
const { Converter, NodeEngine, WebSockets } = (await import(
  process.env.BENCH_LIBRARY ?? "../../src/index.js"
)) as typeof import("../../src/index.js")

// BENCH_METRICS=off (bench/run.ts --metrics): the same client with the websockets.* metrics turned off
const Live = WebSockets.layer({ contentConverter: Converter.json, metrics: process.env.BENCH_METRICS !== "off" }).pipe(
  Layer.provide(NodeEngine.layer)
)

const run = <A>(effect: Effect.Effect<A, unknown, WebSocketsModule.WebSockets>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, Live))

const pipelinedWith = (url: string, items: ReadonlyArray<string | Uint8Array>) =>
  run(WebSockets.webSocket(url, (session) =>
    Effect.gen(function*() {
      const measure = startMeasure()
      // read to the end: the chunked form of `incoming` that the README recommends for that
      const receiver = yield* session.incomingChunked.pipe(
        Stream.take(items.length),
        Stream.runFold(0, (bytes, frame) => bytes + sizeOf(frame.data)),
        Effect.fork
      )
      yield* Effect.forEach(items, session.send, { discard: true })
      yield* Fiber.join(receiver)
      return measure()
    })))

export const jobs: Jobs = {
  pipelined: (url, count, size) => pipelinedWith(url, texts(count, size)),

  roundTrip: (url, count, size) => {
    const items = texts(count, size)
    return run(WebSockets.webSocket(url, (session) =>
      Effect.gen(function*() {
        const measure = startMeasure()
        let bytes = 0
        for (let i = 0; i < count; i++) {
          yield* session.send(items[i]!)
          bytes += sizeOf((yield* session.receive).data)
        }
        return measure()
      })))
  },

  large: (url, count, size) => pipelinedWith(url, blobs(count, size)),

  typed: (url, count) => {
    const values = messages(count)
    return run(WebSockets.webSocket(url, (session) =>
      Effect.gen(function*() {
        const measure = startMeasure()
        const receiver = yield* Effect.gen(function*() {
          let sum = 0
          for (let i = 0; i < count; i++) sum += (yield* session.receiveDeserialized(Message)).id
          return sum
        }).pipe(Effect.fork)
        yield* Effect.forEach(values, (value) => session.sendSerialized(Message, value), { discard: true })
        yield* Fiber.join(receiver)
        return measure()
      })))
  },

  slow: (url, count, everyMs, onBaseline, onDone) =>
    run(WebSockets.webSocket(url, (session) =>
      Effect.gen(function*() {
        onBaseline()
        const consumed = yield* session.incoming.pipe(
          Stream.take(count),
          Stream.tap(() => Effect.sleep(everyMs)),
          Stream.runFold(0, (bytes, frame) => bytes + sizeOf(frame.data))
        )
        yield* session.send("mark")
        onDone(consumed)
        yield* Effect.never
      }))),

  idle: (url, count, measure) =>
    run(Effect.scoped(Effect.gen(function*() {
      yield* Effect.forEach(Array.from({ length: count }), () => WebSockets.webSocketSession(url), {
        concurrency: 50,
        discard: true
      })
      yield* Effect.promise(measure)
    })))
}
