import { describe, expect, it, vi } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { CloseReason, Engine, Frame, TestEngine, WebSocketException, WebSockets } from "../src/index.js"
import { runChild } from "./testEngine/runChild.js"

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

  // README: "A handler's assertions count"
  const sendsBoth = WebSockets.webSocket(
    "wss://bot.example.com/chat",
    (session) => Effect.zipRight(session.send("one"), session.send("two"))
  )

  const expectsThree: TestEngine.Options = {
    handler: (server) =>
      Effect.gen(function*() {
        // incoming ends once the client has closed and every frame was read
        const frames = Chunk.toReadonlyArray(yield* Stream.runCollect(server.incoming)).filter(Frame.isData)
        expect(frames.map(Frame.readText)).toEqual(["one", "two", "three"]) // wrong on purpose
      })
  }

  it.effect("a handler's failed expect fails the client's run", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(sendsBoth)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    }).pipe(Effect.provide(TestWebSockets(expectsThree))))

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

// ---- TestEngine cannot lie (README: "Testing your code with TestEngine") ------------------------------------------

/** A handler that reads everything the client sent, to the end, and only then checks it. */
const assertsAfterTheClientIsDone = (expected: number) => (server: TestEngine.ServerConnection) =>
  Effect.gen(function*() {
    const frames = yield* Stream.runCollect(server.incoming)
    expect(Chunk.toReadonlyArray(frames).filter(Frame.isData)).toHaveLength(expected)
  })

/** The client's program: two messages, then `webSocket` closes with 1000. */
const sendTwo = WebSockets.webSocket(url, (session) =>
  Effect.gen(function*() {
    yield* session.send("one")
    yield* session.send("two")
  }))

describe("TestEngine cannot lie: a handler's failure fails the run that opened the connection", () => {
  it.effect("a wrong expect after the client closed fails the client's webSocket, every time", () =>
    Effect.gen(function*() {
      for (let run = 0; run < 20; run++) {
        const exit = yield* Effect.exit(sendTwo)
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          // a defect carrying the handler's own error: vitest shows the failed expect itself
          const defect = Cause.squash(exit.cause)
          expect(defect).toBeInstanceOf(Error)
          expect((defect as Error).message).toContain("to have a length of 99 but got 2")
          expect(Cause.isDie(exit.cause)).toBe(true)
        }
      }
    }).pipe(Effect.provide(testLayer({ handler: assertsAfterTheClientIsDone(99) }))))

  it.effect("the same handler with a right expect lets the run succeed", () =>
    Effect.gen(function*() {
      for (let run = 0; run < 5; run++) yield* sendTwo
    }).pipe(Effect.provide(testLayer({ handler: assertsAfterTheClientIsDone(2) }))))

  it.effect("a failure raised in the client's run is not raised again when the server stops", () =>
    Effect.gen(function*() {
      const layer = testLayer({ handler: assertsAfterTheClientIsDone(9) })
      const inner = yield* Effect.exit(sendTwo.pipe(Effect.provide(layer)))
      expect(Exit.isFailure(inner)).toBe(true)
      if (Exit.isFailure(inner)) expect(Cause.defects(inner.cause).length).toBe(1)
    }))

  it.effect("a handler failing while the connection is open: Close(1011) reaches the client, its scope dies", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.gen(function*() {
          const session = yield* WebSockets.webSocketSession(url)
          yield* Stream.runDrain(session.incoming)
          expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1011, message: "" })))
        }).pipe(Effect.scoped)
      )
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain("assertion in handler")
    }).pipe(Effect.provide(testLayer({ handler: () => Effect.dieMessage("assertion in handler") }))))

  it.effect("a handler that fails with a typed error fails the run too (as a defect carrying that error)", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(sendTwo)
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toEqual("handler gave up")
    }).pipe(Effect.provide(testLayer({
      handler: (server) => Effect.zipRight(Stream.runDrain(server.incoming), Effect.fail("handler gave up"))
    }))))

  it.effect("the natural echo loop Effect.forever(receive …) ends quietly when the client closes", () =>
    Effect.gen(function*() {
      const echoed = yield* WebSockets.webSocket(url, (session) =>
        Effect.gen(function*() {
          yield* session.send("a")
          return yield* session.receive
        }))
      expect(echoed).toEqual(Frame.text("a"))
    }).pipe(Effect.provide(testLayer({
      handler: (server) =>
        Effect.forever(
          Effect.flatMap(server.receive, (frame) => Frame.isData(frame) ? server.send(frame) : Effect.void)
        )
    }))))

  it.effect("receive past the end fails with ConnectionClosed naming the connection and who closed it", () =>
    Effect.gen(function*() {
      yield* sendTwo
      const server = yield* TestEngine.nextConnection
      expect((yield* server.receive)._tag).toBe("Text")
      expect((yield* server.receive)._tag).toBe("Text")
      expect((yield* server.receive)._tag).toBe("Close")
      const error = yield* Effect.flip(server.receive)
      expect(error).toBeInstanceOf(TestEngine.ConnectionClosed)
      expect(error._tag).toBe("ConnectionClosed")
      expect(error.initiator).toBe("client")
      expect(error.code).toBe(1000)
      expect(error.message).toBe(
        "TestEngine connection ws://chat.test/room?id=1 has ended: the client closed it (1000); " +
          "no more frames to receive"
      )
      // and again: the end stays the end
      expect((yield* Effect.flip(server.receive))._tag).toBe("ConnectionClosed")
    }).pipe(Effect.provide(testLayer())))

  it.effect("a connection the server closed, or dropped, says so", () =>
    Effect.gen(function*() {
      const first = yield* WebSockets.webSocketSession(url)
      const closedByServer = yield* TestEngine.nextConnection
      yield* closedByServer.close(new CloseReason({ code: 4001, message: "bye" }))
      yield* first.closeReason
      yield* Stream.runDrain(closedByServer.incoming)
      const closed = yield* Effect.flip(closedByServer.receive)
      expect([closed.initiator, closed.code]).toEqual(["server", 4001])
      expect(closed.message).toContain(`the server closed it (4001 "bye")`)

      const second = yield* WebSockets.webSocketSession(url)
      const dropped = yield* TestEngine.nextConnection
      yield* dropped.drop
      yield* second.closeReason
      const error = yield* Effect.flip(dropped.receive)
      expect([error.initiator, error.code]).toEqual(["dropped", 1006])
      expect(error.message).toContain("it was dropped without a Close (1006)")
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a handler still running after the grace period is interrupted, and the run ends", () =>
    Effect.gen(function*() {
      let interrupted = false
      const layer = testLayer({
        gracePeriod: "50 millis",
        handler: () => Effect.onInterrupt(Effect.never, () => Effect.sync(() => (interrupted = true)))
      })
      yield* sendTwo.pipe(Effect.provide(layer))
      expect(interrupted).toBe(true)
    }))

  it.effect("a handler that returns leaves the connection open: the test goes on scripting it", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      expect(yield* session.receive).toEqual(Frame.text("welcome"))
      const server = yield* TestEngine.nextConnection
      yield* session.send("still there?")
      expect(yield* server.receive).toEqual(Frame.text("still there?"))
      yield* server.send("yes")
      expect(yield* session.receive).toEqual(Frame.text("yes"))
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handler: (server) => server.send("welcome") }))))
})

describe("TestEngine behaves like a real peer", () => {
  it.effect("request header names arrive lower-cased, as a Node server sees them", () =>
    Effect.gen(function*() {
      yield* WebSockets.webSocketSession({ url, headers: { "X-Request-Id": "42", Authorization: "Bearer t" } })
      const server = yield* TestEngine.nextConnection
      expect(server.request.headers).toEqual({ "x-request-id": "42", authorization: "Bearer t" })
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("drop during a slow consumer: all 10,000 messages received before it arrive, then 1006", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      for (let i = 0; i < 10_000; i++) yield* server.send(String(i))
      yield* server.drop
      const received: Array<string> = []
      const exit = yield* Effect.exit(
        Stream.runForEach(session.incoming, (f) => Effect.sync(() => received.push(Frame.readText(f))))
      )
      expect(received.length).toBe(10_000)
      expect(received.every((text, i) => text === String(i))).toBe(true)
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toMatchObject({ reason: "Closed" })
      expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1006, message: "" })))
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("an invalid UTF-8 close reason is a protocol violation: Close 1007, incoming fails Protocol", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      yield* server.send({ _tag: "Close", fin: true, data: new Uint8Array([0x03, 0xe8, 0xc3, 0x28]) })
      const error = yield* Effect.flip(Stream.runDrain(session.incoming))
      expect(error.reason).toBe("Protocol")
      expect(closeText(yield* server.receive)?.code).toBe(1007)
      expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1007, message: "" })))
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("invalid UTF-8 text (a lone surrogate, also across fragments) is a violation: Close 1007", () =>
    Effect.gen(function*() {
      for (const frames of [[Frame.text("ok \uD800")], [Frame.text("\uDC00", false), Frame.text("tail")]]) {
        const session = yield* WebSockets.webSocketSession(url)
        const server = yield* TestEngine.nextConnection
        for (const frame of frames) yield* server.send(frame)
        const error = yield* Effect.flip(session.receive)
        expect(error.reason).toBe("Protocol")
        expect(closeText(yield* server.receive)?.code).toBe(1007)
      }
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a surrogate pair split over two fragments joins into valid text", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      yield* server.send(Frame.text("\uD83D", false))
      yield* server.send(Frame.text("\uDE00"))
      expect(yield* session.receive).toEqual(Frame.text("\uD83D\uDE00"))
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("text the client sends with a lone surrogate reaches the server as ws sends it: U+FFFD", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      yield* session.send("a\uD800b")
      expect(yield* server.receive).toEqual(Frame.text("a\uFFFDb"))
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("releasing the layer ends its sessions with 1006: no send into nothing", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const serverScope = yield* Scope.make()
      const server = yield* TestEngine.make({ handler: TestEngine.echo }).pipe(Scope.extend(serverScope))
      const session = yield* WebSockets.webSocketSession(url).pipe(
        Effect.provide(WebSockets.layer().pipe(Layer.provide(Layer.succeed(Engine.Engine, server.engine)))),
        Scope.extend(outer)
      )
      yield* Scope.close(serverScope, Exit.void)
      expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1006, message: "" })))
      expect((yield* Effect.flip(session.send("anyone?"))).reason).toBe("Closed")
      expect((yield* Effect.flip(Stream.runDrain(session.incoming))).reason).toBe("Closed")
      yield* Scope.close(outer, Exit.void)
    }))

  it.effect("a reader of the server's incoming that stops early leaves the rest for the next reader", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const server = yield* TestEngine.nextConnection
      for (const text of ["1", "2", "3"]) yield* session.send(text)
      const first = yield* Stream.runCollect(Stream.take(server.incoming, 1))
      expect(Chunk.toReadonlyArray(first)).toEqual([Frame.text("1")])
      expect(yield* server.receive).toEqual(Frame.text("2"))
      expect(yield* server.receive).toEqual(Frame.text("3"))
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("the server keeps at most KEPT_CONNECTIONS connections nobody took", () =>
    Effect.gen(function*() {
      const server = yield* TestEngine.TestServer
      for (let i = 0; i < TestEngine.KEPT_CONNECTIONS + 10; i++) yield* WebSockets.webSocket(url, () => Effect.void)
      expect(yield* Queue.size(server.connections)).toBe(TestEngine.KEPT_CONNECTIONS)
    }).pipe(Effect.provide(testLayer())))
})

describe("TestEngine does not starve timers (real time)", () => {
  it.live("a request/response loop: timeoutOption(200 millis) ends it on time and a 10 ms interval ticks", () =>
    Effect.gen(function*() {
      let ticks = 0
      const interval = setInterval(() => ticks++, 10)
      const start = Date.now()
      // the loop also stops itself after 5 s of wall time, so that a regression fails here instead of hanging
      const result = yield* WebSockets.webSocket(url, (session) =>
        Effect.forever(
          Effect.zipRight(
            Effect.zipRight(session.send("ping"), session.receive),
            Effect.suspend(() => Date.now() - start > 5_000 ? Effect.fail("starved" as const) : Effect.void)
          )
        ).pipe(Effect.timeoutOption("200 millis"))).pipe(Effect.ensuring(Effect.sync(() => clearInterval(interval))))
      const elapsed = Date.now() - start
      expect(Option.isNone(result)).toBe(true)
      expect(elapsed).toBeLessThan(1_000)
      expect(ticks).toBeGreaterThanOrEqual(3)
    }).pipe(Effect.provide(testLayer({ handler: TestEngine.echo }))))

  it.live("a loop of short sessions (no handler): timeoutOption(200 millis) ends it on time", () =>
    Effect.gen(function*() {
      const start = Date.now()
      const result = yield* Effect.forever(
        Effect.zipRight(
          WebSockets.webSocket(url, (session) => session.send("x")),
          Effect.suspend(() => Date.now() - start > 5_000 ? Effect.fail("starved" as const) : Effect.void)
        )
      ).pipe(Effect.timeoutOption("200 millis"))
      expect(Option.isNone(result)).toBe(true)
      expect(Date.now() - start).toBeLessThan(1_000)
    }).pipe(Effect.provide(testLayer())))

  it("fake timers installed by a test (setImmediate included) do not stop the engine's yields", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setImmediate", "clearImmediate", "setInterval"] })
    try {
      const roundTrips = await Effect.runPromise(
        WebSockets.webSocket(url, (session) =>
          Effect.gen(function*() {
            // long enough to spend several slices: each one ends with a yield to the event loop
            const start = performance.now()
            let count = 0
            while (performance.now() - start < 100 || count < 500) {
              yield* session.send("ping")
              yield* session.receive
              count++
            }
            return count
          })).pipe(Effect.provide(testLayer({ handler: TestEngine.echo })))
      )
      expect(roundTrips).toBeGreaterThanOrEqual(500)
    } finally {
      vi.useRealTimers()
    }
  }, 20_000)

  it("an endless loop in a child process: a 200 ms timer (a test runner's timeout) still fires", async () => {
    const child = await runChild("./endlessEcho.ts", { deadlineMs: 60_000 })
    expect(child.timedOut, child.stderr).toBe(false)
    expect(child.code, child.stderr).toBe(0)
    expect(child.result).toMatchObject({ firedAfterMs: expect.any(Number) })
    expect((child.result as { firedAfterMs: number }).firedAfterMs).toBeLessThan(1_000)
  }, 90_000)
})

describe("TestEngine does not retain ended connections", () => {
  it("the heap stays flat over thousands of sessions through one shared layer (child, --expose-gc)", async () => {
    const child = await runChild("./retention.ts", {
      deadlineMs: 240_000,
      nodeArgs: ["--expose-gc"],
      args: ["3200", "1200"]
    })
    expect(child.code, child.stderr).toBe(0)
    const { growth, sessions } = child.result as { growth: number; sessions: number }
    expect(sessions).toBe(3200)
    // before the fix: ~9 KB per ended session (18 MB over these 2,000); now a few bytes at most
    expect(growth).toBeLessThan(3 * 1024 * 1024)
  }, 300_000)
})
