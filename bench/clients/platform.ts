/**
 * `@effect/platform`'s `Socket.makeWebSocket`, with `ws` as the WebSocket constructor (the platform's own way to
 * plug a WebSocket implementation in). Messages are read with `runRaw` (strings for text, as with the other
 * clients) and written with `writer`.
 */
import * as Socket from "@effect/platform/Socket"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import WebSocket from "ws"
import { blobs, type Jobs, Message, messages, sizeOf, startMeasure, texts } from "../common.js"

const WebSocketConstructorLive = Layer.succeed(
  Socket.WebSocketConstructor,
  (url: string, protocols?: string | Array<string>) =>
    new WebSocket(url, protocols, { perMessageDeflate: false }) as unknown as globalThis.WebSocket
)

const run = <A>(effect: Effect.Effect<A, unknown, Socket.WebSocketConstructor | Scope.Scope>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(WebSocketConstructorLive)) as Effect.Effect<A, unknown>)

/** Opens a socket whose messages go to `handler`; resolves once it is open, with its writer. */
const connect = (url: string, handler: (data: string | Uint8Array) => Effect.Effect<void, unknown> | void) =>
  Effect.gen(function*() {
    const socket = yield* Socket.makeWebSocket(url)
    const write = yield* socket.writer
    const opened = yield* Deferred.make<void>()
    const fiber = yield* socket.runRaw(handler, { onOpen: Deferred.complete(opened, Effect.void) }).pipe(
      Effect.forkScoped
    )
    yield* Effect.raceFirst(Deferred.await(opened), Fiber.join(fiber))
    return { write, fiber }
  })

const timed = <R>(
  url: string,
  count: number,
  onMessage: (data: string | Uint8Array) => void,
  body: (
    write: (data: string | Uint8Array) => Effect.Effect<void, Socket.SocketError>
  ) => Effect.Effect<void, unknown, R>
) =>
  Effect.gen(function*() {
    const done = yield* Deferred.make<void>()
    let received = 0
    const { fiber, write } = yield* connect(url, (data) => {
      onMessage(data)
      if (++received === count) Deferred.unsafeDone(done, Exit.void)
    })
    const measure = startMeasure()
    yield* body(write)
    yield* Deferred.await(done)
    const measured = measure()
    yield* Fiber.interrupt(fiber)
    return measured
  })

const pipelinedWith = (url: string, items: ReadonlyArray<string | Uint8Array>) => {
  let bytes = 0
  return run(
    timed(
      url,
      items.length,
      (data) => (bytes += sizeOf(data)),
      (write) => Effect.forEach(items, write, { discard: true })
    )
  )
}

export const jobs: Jobs = {
  pipelined: (url, count, size) => pipelinedWith(url, texts(count, size)),

  roundTrip: (url, count, size) => {
    const items = texts(count, size)
    return run(Effect.gen(function*() {
      const replies = yield* Mailbox.make<string | Uint8Array>()
      const { fiber, write } = yield* connect(url, (data) => {
        replies.unsafeOffer(data)
      })
      const measure = startMeasure()
      let bytes = 0
      for (let i = 0; i < count; i++) {
        yield* write(items[i]!)
        bytes += sizeOf(yield* replies.take)
      }
      const measured = measure()
      yield* Fiber.interrupt(fiber)
      return measured
    }))
  },

  large: (url, count, size) => pipelinedWith(url, blobs(count, size)),

  typed: (url, count) => {
    const values = messages(count)
    const decode = Schema.decodeUnknownSync(Message)
    let sum = 0
    return run(
      timed(
        url,
        count,
        (data) => {
          sum += decode(JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString())).id
        },
        (write) => Effect.forEach(values, (value) => write(JSON.stringify(value)), { discard: true })
      )
    )
  },

  slow: (url, count, everyMs, onBaseline, onDone) =>
    run(Effect.gen(function*() {
      const queue = yield* Mailbox.make<string | Uint8Array>()
      const { write } = yield* connect(url, (data) => {
        queue.unsafeOffer(data)
      })
      onBaseline()
      let consumed = 0
      for (let i = 0; i < count; i++) {
        consumed += sizeOf(yield* queue.take)
        yield* Effect.sleep(everyMs)
      }
      yield* write("mark")
      onDone(consumed)
      yield* Effect.never
    })),

  idle: (url, count, measure) =>
    run(Effect.gen(function*() {
      yield* Effect.forEach(Array.from({ length: count }), () => connect(url, () => {}), {
        concurrency: 50,
        discard: true
      })
      yield* Effect.promise(measure)
    }))
}
