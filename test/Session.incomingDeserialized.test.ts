/**
 * `session.incomingDeserialized(schema)` (docs/API.md §6): `incoming`, each message decoded with the schema through
 * the installed converter, ending when the peer closes. Runs over `TestEngine`, so the server is scripted.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  CloseReason,
  Converter,
  Frame,
  TestEngine,
  WebsocketConverterNotFoundException,
  WebsocketDeserializeException,
  WebSocketException,
  WebSockets
} from "../src/index.js"

const url = "ws://quotes.test/feed"

const testLayer = (server: TestEngine.Options, options: WebSockets.Options = { contentConverter: Converter.json }) =>
  WebSockets.layer(options).pipe(Layer.provideMerge(TestEngine.layer(server)))

const Quote = Schema.Struct({ symbol: Schema.String, price: Schema.Number })

/** A server that sends `messages` as they are, then does `end` (a Close(1000) unless told otherwise). */
const sends = (
  messages: ReadonlyArray<string | Uint8Array>,
  end: (server: TestEngine.ServerConnection) => Effect.Effect<void> = (server) =>
    server.close(new CloseReason({ code: CloseReason.Codes.NORMAL, message: "" }))
): TestEngine.Options => ({
  handler: (server) =>
    Effect.gen(function*() {
      for (const message of messages) yield* server.send(message)
      yield* end(server)
    })
})

describe("incomingDeserialized (docs/API.md §6)", () => {
  it.effect("decodes every message in order and ends without error when the peer closes", () =>
    Effect.gen(function*() {
      const quotes = yield* WebSockets.webSocket(
        url,
        (session) => Stream.runCollect(session.incomingDeserialized(Quote))
      )
      expect(Chunk.toReadonlyArray(quotes)).toEqual([
        { symbol: "ACME", price: 1.5 },
        { symbol: "INIT", price: 2 },
        { symbol: "ACME", price: 1.25 }
      ])
    }).pipe(Effect.provide(testLayer(sends([
      JSON.stringify({ symbol: "ACME", price: 1.5 }),
      new TextEncoder().encode(JSON.stringify({ symbol: "INIT", price: 2 })), // JSON reads UTF-8 Binary frames too
      JSON.stringify({ symbol: "ACME", price: 1.25 })
    ])))))

  it.effect("a message the schema rejects fails the stream with WebsocketDeserializeException carrying the frame", () =>
    Effect.gen(function*() {
      const error = yield* WebSockets.webSocket(
        url,
        (session) => Effect.flip(Stream.runDrain(session.incomingDeserialized(Quote)))
      )
      expect(error).toBeInstanceOf(WebsocketDeserializeException)
      const failure = error as WebsocketDeserializeException
      expect(failure.frame).toEqual(Frame.text(JSON.stringify({ symbol: "ACME", price: "free" })))
      expect(failure.cause).toBeDefined()
    }).pipe(Effect.provide(testLayer(sends([JSON.stringify({ symbol: "ACME", price: "free" })])))))

  it.effect("no converter installed: fails with WebsocketConverterNotFoundException and consumes no message", () =>
    Effect.gen(function*() {
      const [error, next] = yield* WebSockets.webSocket(url, (session) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(Stream.runDrain(session.incomingDeserialized(Quote)))
          return [error, yield* session.receive] as const
        }))
      expect(error).toBeInstanceOf(WebsocketConverterNotFoundException)
      expect(error.message).toBe("No converter was found for websocket")
      expect(next).toEqual(Frame.text("still here"))
    }).pipe(Effect.provide(testLayer(sends(["still here"]), {}))))

  it.effect("a dropped connection fails the stream with WebSocketException Closed after what arrived", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const error = yield* WebSockets.webSocket(url, (session) =>
        Effect.flip(
          Stream.runForEach(session.incomingDeserialized(Quote), (quote) => Effect.sync(() => seen.push(quote)))
        ))
      expect(seen).toEqual([{ symbol: "ACME", price: 3 }])
      expect(error).toBeInstanceOf(WebSocketException)
      expect((error as WebSocketException).reason).toBe("Closed")
    }).pipe(Effect.provide(testLayer(sends([JSON.stringify({ symbol: "ACME", price: 3 })], (server) => server.drop)))))
})

describe("sendSerialized takes its type from the schema (docs/API.md §6)", () => {
  const Subscribe = Schema.Struct({ type: Schema.Literal("subscribe"), symbol: Schema.String })

  it.effect("a literal field needs no `as const`: the object is encoded with the schema and sent as JSON", () =>
    Effect.gen(function*() {
      const symbol: string = "ACME"
      yield* WebSockets.webSocket(url, (session) => session.sendSerialized(Subscribe, { type: "subscribe", symbol }))
      const server = yield* TestEngine.nextConnection
      const [first] = yield* server.received
      expect(first).toEqual(Frame.text(JSON.stringify({ type: "subscribe", symbol: "ACME" })))
    }).pipe(Effect.provide(testLayer({}))))
})
