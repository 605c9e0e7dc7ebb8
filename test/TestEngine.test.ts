import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { CloseReason, Frame, TestEngine, WebSocketException, WebSockets } from "../src/index.js"

const url = "ws://chat.test/room?id=1"

/** The plugin over a test server, both in one layer. */
const testLayer = (server: TestEngine.Options = {}, options: WebSockets.Options = {}) =>
  WebSockets.layer(options).pipe(Layer.provideMerge(TestEngine.layer(server)))

const closeText = (frame: Frame.Frame) =>
  Frame.isClose(frame) ? Option.getOrUndefined(Frame.readReason(frame)) : undefined

// What a user writes: their own program…
const greet = (name: string) =>
  WebSockets.webSocket(url, (session) =>
    Effect.gen(function*() {
      yield* session.send(name)
      return Frame.readText(yield* session.receive)
    }))

describe("TestEngine", () => {
  it.effect("runs a user's program against a scripted handler, with no sockets", () =>
    Effect.gen(function*() {
      expect(yield* greet("Ada")).toBe("Hello, Ada!")
    }).pipe(
      Effect.provide(testLayer({
        handler: (server) =>
          Effect.gen(function*() {
            const name = yield* server.receive
            yield* server.send(`Hello, ${Frame.readText(name)}!`)
          })
      }))
    ))

  it.effect("the handler sees what the client sent: data frames as sent, then Close(1000) from webSocket", () =>
    Effect.gen(function*() {
      yield* WebSockets.webSocket(url, (session) =>
        Effect.gen(function*() {
          yield* session.send("a")
          yield* session.send(new Uint8Array([1, 2]))
          yield* session.send(Frame.text("part-", false))
          yield* session.send(Frame.text("end"))
          yield* session.send(Frame.ping(new Uint8Array([7])))
        }))
      const server = yield* TestEngine.nextConnection
      const frames = Chunk.toReadonlyArray(yield* Stream.runCollect(server.incoming))
      expect(frames.map((f) => f._tag)).toEqual(["Text", "Binary", "Text", "Text", "Ping", "Close"])
      expect(frames[2]).toEqual(Frame.text("part-", false))
      expect(frames[1]!.data).toEqual(new Uint8Array([1, 2]))
      expect(closeText(frames[5]!)).toEqual(new CloseReason({ code: 1000, message: "" }))
    }).pipe(Effect.provide(testLayer())))

  it.effect("accept: status 101, the chosen protocol and response headers reach session.call", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession({
        url,
        headers: { authorization: "Bearer t" },
        protocols: ["v1", "v2"]
      })
      expect(session.call.status).toBe(101)
      expect(session.call.protocol).toBe("v2")
      expect(session.call.headers["x-server"]).toBe("test")
      expect(session.call.headers["sec-websocket-protocol"]).toBe("v2")
      const server = yield* TestEngine.nextConnection
      expect(server.request.url.href).toBe(url)
      expect(server.request.headers).toEqual({ authorization: "Bearer t" })
      expect(server.request.protocols).toEqual(["v1", "v2"])
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({
        handshake: () => TestEngine.accept({ protocol: "v2", headers: { "X-Server": "test" } })
      }))
    ))

  it.effect("refuse(status): Handshake exception, expected status code 101 but was <status>", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(greet("x"))
      expect(error).toBeInstanceOf(WebSocketException)
      expect(error.reason).toBe("Handshake")
      expect(error.status).toBe(403)
      expect(error.message).toBe("Handshake exception, expected status code 101 but was 403")
    }).pipe(Effect.provide(testLayer({ handshake: () => TestEngine.refuse(403) }))))

  it.effect("a protocol the client did not offer fails the handshake", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WebSockets.webSocket({ url, protocols: ["v1"] }, () => Effect.void))
      expect(error.reason).toBe("Handshake")
      expect(error.message).toContain(`"v9", which was not offered`)
    }).pipe(Effect.provide(testLayer({ handshake: () => TestEngine.accept({ protocol: "v9" }) }))))

  it.effect("the deflate offer reaches the server; what it agreed shows in session.call.extensions", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      expect(session.call.extensions).toBe("permessage-deflate; server_no_context_takeover")
      expect(session.call.headers["sec-websocket-extensions"]).toBe("permessage-deflate; server_no_context_takeover")
      const server = yield* TestEngine.nextConnection
      expect(server.request.deflate).toEqual({ serverNoContextTakeover: true })
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer(
        {
          handshake: (request) =>
            TestEngine.accept({
              extensions: request.deflate?.serverNoContextTakeover
                ? "permessage-deflate; server_no_context_takeover"
                : ""
            })
        },
        { extensions: { deflate: { serverNoContextTakeover: true } } }
      ))
    ))

  it.effect("an extension the client did not offer fails the handshake", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(greet("x"))
      expect(error.reason).toBe("Handshake")
      expect(error.message).toContain("extension that was not requested")
    }).pipe(Effect.provide(testLayer({ handshake: () => TestEngine.accept({ extensions: "permessage-deflate" }) }))))

  it.effect("a server that never answers the upgrade: Timeout after connectTimeout, reached with TestClock", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(greet("x"))
      yield* TestClock.adjust("9 seconds")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error.reason).toBe("Timeout")
    }).pipe(Effect.provide(testLayer({ handshake: () => Effect.never }, { connectTimeout: "10 seconds" }))))

  it.effect("pings are answered by default: the session outlives many ping intervals", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      yield* TestClock.adjust("5 minutes")
      const server = yield* TestEngine.nextConnection
      yield* server.send("still here")
      expect(Frame.readText(yield* session.receive)).toBe("still here")
      const first = yield* server.receive
      expect(first._tag).toBe("Ping")
      expect(Frame.readBytes(first).byteLength).toBeGreaterThan(0)
    }).pipe(Effect.scoped, Effect.provide(testLayer({}, { pingInterval: "20 seconds" }))))

  it.effect("ignorePings: the ping timeout is reached with TestClock.adjust: 1011 Ping timeout, PingTimeout", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const drained = yield* Effect.fork(Stream.runDrain(session.incoming))
      yield* TestClock.adjust("20 seconds")
      expect(drained.unsafePoll()).toBeNull()
      yield* TestClock.adjust("10 seconds")
      const error = yield* Effect.flip(Fiber.join(drained))
      expect(error.reason).toBe("PingTimeout")
      expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1011, message: "Ping timeout" })))
      const server = yield* TestEngine.nextConnection
      expect((yield* server.receive)._tag).toBe("Ping")
      expect(closeText(yield* server.receive)).toEqual(new CloseReason({ code: 1011, message: "Ping timeout" }))
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({ ignorePings: true }, { pingInterval: "20 seconds", timeout: "10 seconds" }))
    ))

  it.effect("ignoreClose: our Close waits 5 s (TestClock) for an answer, then the connection is dropped", () =>
    Effect.gen(function*() {
      const run = yield* Effect.fork(WebSockets.webSocket(url, (session) => session.send("bye")))
      const server = yield* TestEngine.nextConnection
      expect(Frame.readText(yield* server.receive)).toBe("bye")
      expect(closeText(yield* server.receive)?.code).toBe(1000)
      yield* TestClock.adjust("4 seconds")
      expect(run.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(run)
      yield* server.closed
    }).pipe(Effect.provide(testLayer({ ignoreClose: true }))))

  it.effect("ignoreClose: the script answers our Close itself, after sending what was in flight", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      yield* session.close(new CloseReason({ code: 4000, message: "done" }))
      expect(closeText(yield* server.receive)).toEqual(new CloseReason({ code: 4000, message: "done" }))
      yield* server.send("late")
      yield* server.close(new CloseReason({ code: 4000, message: "done" }))
      const rest = yield* Stream.runCollect(session.incoming)
      expect(Chunk.toReadonlyArray(rest)).toEqual([Frame.text("late")])
      expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 4000, message: "done" })))
    }).pipe(Effect.scoped, Effect.provide(testLayer({ ignoreClose: true }))))

  it.effect("drop: the connection ends without a Close: 1006 and incoming fails with Closed", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      yield* server.send("last")
      yield* server.drop
      const exit = yield* Effect.exit(Stream.runCollect(session.incoming))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1006, message: "" })))
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("fragments sent by the server are delivered as one message", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      yield* server.send(Frame.binary(new Uint8Array([1]), false))
      yield* server.send(Frame.binary(new Uint8Array([2, 3])))
      expect(yield* session.receive).toEqual(Frame.binary(new Uint8Array([1, 2, 3])))
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a slow consumer pauses delivery; nothing is lost or reordered when it catches up", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      const count = 10_000
      for (let i = 0; i < count; i++) yield* server.send(String(i))
      yield* server.close()
      const received = Chunk.toReadonlyArray(yield* Stream.runCollect(session.incoming)).map(Frame.readText)
      expect(received.length).toBe(count)
      expect(received.every((text, i) => text === String(i))).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a message over maxFrameSize, even in fragments: Close 1009 to the server, FrameTooBig", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      yield* server.send(Frame.text("x".repeat(60), false))
      yield* server.send(Frame.text("x".repeat(60)))
      const error = yield* Effect.flip(session.receive)
      expect(error.reason).toBe("FrameTooBig")
      expect(closeText(yield* server.receive)?.code).toBe(1009)
      expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1009, message: "" })))
    }).pipe(Effect.scoped, Effect.provide(testLayer({}, { maxFrameSize: 100 }))))

  it.effect("a Close with a code that may not be sent on the wire is a protocol violation: Close 1002", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      yield* server.send(Frame.close(new CloseReason({ code: 1005, message: "" })))
      const error = yield* Effect.flip(Stream.runDrain(session.incoming))
      expect(error.reason).toBe("Protocol")
      expect(closeText(yield* server.receive)?.code).toBe(1002)
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a handler that fails closes with 1011 and fails the test when the server shuts down", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.gen(function*() {
          const session = yield* WebSockets.webSocketSession(url)
          yield* Stream.runDrain(session.incoming)
          return yield* session.closeReason
        }).pipe(
          Effect.scoped,
          Effect.provide(testLayer({ handler: () => Effect.dieMessage("assertion in handler") }))
        )
      )
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain("assertion in handler")
    }))

  it.effect("the echo handler sends every data frame back", () =>
    Effect.gen(function*() {
      const echoed = yield* WebSockets.webSocket(url, (session) =>
        Effect.gen(function*() {
          yield* session.send("one")
          yield* session.send(new Uint8Array([9]))
          return [yield* session.receive, yield* session.receive]
        }))
      expect(echoed).toEqual([Frame.text("one"), Frame.binary(new Uint8Array([9]))])
    }).pipe(Effect.provide(testLayer({ handler: TestEngine.echo }))))

  it.effect("several sessions on one test server each get their own connection", () =>
    Effect.gen(function*() {
      const results = yield* Effect.all([greet("a"), greet("b"), greet("c")], { concurrency: "unbounded" })
      expect(results).toEqual(["a", "b", "c"])
    }).pipe(Effect.provide(testLayer({ handler: TestEngine.echo }))))
})

// The README example, kept here so that it stays true.
describe("README example: testing your own code with TestEngine", () => {
  // src/bot.ts — the code under test
  const askBot = (question: string) =>
    WebSockets.webSocket("wss://bot.example.com/chat", (session) =>
      Effect.gen(function*() {
        yield* session.send(question)
        return Frame.readText(yield* session.receive)
      }))

  // test/bot.test.ts
  const TestWebSockets = (server: TestEngine.Options, options?: WebSockets.Options) =>
    WebSockets.layer(options).pipe(Layer.provideMerge(TestEngine.layer(server)))

  const bot: TestEngine.Options = {
    handler: (server) =>
      Effect.gen(function*() {
        const question = yield* server.receive
        yield* server.send(`You asked: ${Frame.readText(question)}`)
      })
  }

  it.effect("the bot answers the question", () =>
    Effect.gen(function*() {
      expect(yield* askBot("2 + 2?")).toBe("You asked: 2 + 2?")
      // what did the client put on the wire? the question, then Close(1000) when the block ended
      const server = yield* TestEngine.nextConnection
      expect(yield* server.received).toEqual([
        Frame.text("2 + 2?"),
        Frame.close(new CloseReason({ code: CloseReason.Codes.NORMAL, message: "" }))
      ])
    }).pipe(Effect.provide(TestWebSockets(bot))))

  it.effect("a refused handshake is a Handshake failure", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(askBot("hello?"))
      expect(error.reason).toBe("Handshake")
      expect(error.message).toBe("Handshake exception, expected status code 101 but was 503")
    }).pipe(Effect.provide(TestWebSockets({ handshake: () => TestEngine.refuse(503) }))))

  it.effect("a server that stops answering pings: PingTimeout, in virtual time", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(askBot("anyone there?"))
      yield* TestClock.adjust("15 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error.reason).toBe("PingTimeout")
    }).pipe(
      Effect.provide(TestWebSockets({ ignorePings: true }, { pingInterval: "10 seconds", timeout: "5 seconds" }))
    ))
})
