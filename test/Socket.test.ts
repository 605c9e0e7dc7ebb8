import * as Socket from "@effect/platform/Socket"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { CloseReason, Frame, TestEngine, WebSocketException, WebSockets } from "../src/index.js"

const url = "ws://socket.test/rpc"

const testLayer = (server: TestEngine.Options = {}, options: WebSockets.Options = {}) =>
  WebSockets.layer(options).pipe(Layer.provideMerge(TestEngine.layer(server)))

/** Collects what a run's handler is given, until the run ends; returns the run's exit too. */
const collect = (socket: Socket.Socket, raw: boolean) =>
  Effect.gen(function*() {
    const seen: Array<string | Uint8Array> = []
    const handler = (data: string | Uint8Array) => {
      seen.push(data)
    }
    const exit = yield* Effect.exit(raw ? socket.runRaw(handler) : socket.run(handler))
    return { seen, exit }
  })

/** A server that sends `frames` and then closes with `close`. */
const sendThenClose = (frames: ReadonlyArray<string | Uint8Array>, close: CloseReason): TestEngine.Options => ({
  handler: (connection) =>
    Effect.gen(function*() {
      for (const frame of frames) yield* connection.send(frame)
      yield* connection.close(close)
    })
})

const socketError = (exit: unknown) => {
  const error = (exit as { cause?: { error?: unknown } }).cause?.error
  expect(Socket.isSocketError(error)).toBe(true)
  return error as Socket.SocketError
}

describe("WebSockets.socket: a platform Socket over this client (README, A Socket for @effect/rpc)", () => {
  it.effect("runRaw gets a string for a Text message and bytes for a Binary one; a peer's 1000 ends it quietly", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      const { exit, seen } = yield* collect(socket, true)
      expect(exit._tag).toBe("Success")
      expect(seen).toEqual(["text", new Uint8Array([1, 2])])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        testLayer(sendThenClose(["text", new Uint8Array([1, 2])], new CloseReason({ code: 1000, message: "" })))
      )
    ))

  it.effect("run gets bytes for both: a Text message as its UTF-8 encoding", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      const { seen } = yield* collect(socket, false)
      expect(seen).toEqual([new TextEncoder().encode("héllo"), new Uint8Array([7])])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        testLayer(sendThenClose(["héllo", new Uint8Array([7])], new CloseReason({ code: 1000, message: "" })))
      )
    ))

  it.effect("the writer sends a string as Text and bytes as Binary, once the run is open", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      const write = yield* socket.writer
      // written before any run: it waits for the session, as the platform's socket waits for its WebSocket
      const early = yield* Effect.fork(write("early"))
      const opened = yield* Deferred.make<void>()
      const run = yield* Effect.fork(socket.runRaw(() => {}, { onOpen: Deferred.succeed(opened, undefined) }))
      yield* Deferred.await(opened)
      yield* Fiber.join(early)
      yield* write(new Uint8Array([1, 2, 3]))
      yield* write(new Socket.CloseEvent(1000))
      yield* Fiber.join(run)
      const server = yield* TestEngine.nextConnection
      const frames = Chunk.toReadonlyArray(yield* Stream.runCollect(server.incoming))
      expect(frames.slice(0, 2)).toEqual([Frame.text("early"), Frame.binary(new Uint8Array([1, 2, 3]))])
      expect(frames[2]).toEqual(Frame.close(new CloseReason({ code: 1000, message: "" })))
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a CloseEvent on the writer closes with its code; the run then fails with SocketCloseError(code)", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      const write = yield* socket.writer
      const run = yield* Effect.fork(Effect.exit(socket.runRaw(() => {})))
      yield* write(new Socket.CloseEvent(4000, "bye"))
      const exit = yield* Fiber.join(run)
      const error = socketError(exit)
      expect(Socket.SocketCloseError.is(error)).toBe(true)
      expect(error).toMatchObject({ reason: "Close", code: 4000, closeReason: "bye" })
      const server = yield* TestEngine.nextConnection
      const frames = Chunk.toReadonlyArray(yield* Stream.runCollect(server.incoming))
      expect(frames).toEqual([Frame.close(new CloseReason({ code: 4000, message: "bye" }))])
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a peer's close code maps to SocketCloseError as on the platform: 4001 fails, closeCodeIsError can say no", () =>
    Effect.gen(function*() {
      const strict = yield* collect(yield* WebSockets.socket(url), true)
      expect(socketError(strict.exit)).toMatchObject({ reason: "Close", code: 4001, closeReason: "later" })
      const lenient = yield* collect(yield* WebSockets.socket(url, { closeCodeIsError: (code) => code < 4000 }), true)
      expect(lenient.exit._tag).toBe("Success")
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer(sendThenClose([], new CloseReason({ code: 4001, message: "later" }))))
    ))

  it.effect("a dropped connection is a Read error whose cause is the library's WebSocketException", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      const { exit } = yield* collect(socket, true)
      const error = socketError(exit)
      expect(error).toBeInstanceOf(Socket.SocketGenericError)
      expect(error.reason).toBe("Read")
      const cause = (error as Socket.SocketGenericError).cause
      expect(cause).toBeInstanceOf(WebSocketException)
      expect((cause as WebSocketException).reason).toBe("Closed")
      expect(error.message).toContain("closed abnormally")
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handler: (connection) => connection.drop }))))

  it.effect("a message above maxFrameSize: Read error with the FrameTooBig cause (the session's limit applies)", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      const { exit } = yield* collect(socket, true)
      const error = socketError(exit) as Socket.SocketGenericError
      expect(error.reason).toBe("Read")
      expect((error.cause as WebSocketException).reason).toBe("FrameTooBig")
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({ handler: (connection) => connection.send("x".repeat(100)) }, { maxFrameSize: 10 }))
    ))

  it.effect("a peer that stops answering Pings: Read error with the PingTimeout cause (the pinger runs underneath)", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      const run = yield* Effect.fork(collect(socket, true))
      yield* TestClock.adjust("3 seconds")
      const { exit } = yield* Fiber.join(run)
      const error = socketError(exit) as Socket.SocketGenericError
      expect(error.reason).toBe("Read")
      expect((error.cause as WebSocketException).reason).toBe("PingTimeout")
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({ ignorePings: true }, { pingInterval: "1 second", timeout: "1 second" }))
    ))

  it.effect("a refused handshake is an Open error; no answer in time is OpenTimeout", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.flip(
        Effect.scoped(Effect.flatMap(WebSockets.socket(url), (s) => s.runRaw(() => {}))).pipe(
          Effect.provide(testLayer({ handshake: () => TestEngine.refuse(503) }))
        )
      )
      expect(refused).toMatchObject({ _tag: "SocketError", reason: "Open" })
      expect((refused as Socket.SocketGenericError).cause).toMatchObject({ reason: "Handshake", status: 503 })
      expect(refused.message).toContain("expected status code 101 but was 503")

      const slow = yield* Effect.fork(
        Effect.scoped(Effect.flatMap(WebSockets.socket(url), (s) => s.runRaw(() => {}))).pipe(
          Effect.provide(testLayer({ handshake: () => Effect.never }, { connectTimeout: "2 seconds" }))
        )
      )
      yield* TestClock.adjust("2 seconds")
      const timeout = yield* Effect.flip(Fiber.join(slow))
      expect(timeout).toMatchObject({ _tag: "SocketError", reason: "OpenTimeout" })
      expect((timeout as Socket.SocketGenericError).cause).toMatchObject({ reason: "Timeout" })
    }))

  it.effect("a CloseEvent with a code that may not be sent: a Write error with the InvalidCloseCode cause", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      const write = yield* socket.writer
      const opened = yield* Deferred.make<void>()
      yield* Effect.fork(socket.runRaw(() => {}, { onOpen: Deferred.succeed(opened, undefined) }))
      yield* Deferred.await(opened)
      const error = yield* Effect.flip(write(new Socket.CloseEvent(1005)))
      expect(error.reason).toBe("Write")
      expect((error as Socket.SocketGenericError).cause).toMatchObject({ reason: "InvalidCloseCode" })
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a handler's Effect runs in its own fiber; its failure fails the run", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      const error = yield* Effect.flip(
        socket.runRaw((data) => data === "boom" ? Effect.fail("handler failed" as const) : Effect.void)
      )
      expect(error).toBe("handler failed")
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handler: (connection) => connection.send("boom") }))))

  it.effect("each run opens a new session (the platform's reconnect model); the socket's scope closes one still open", () =>
    Effect.gen(function*() {
      const socket = yield* WebSockets.socket(url)
      yield* collect(socket, true)
      yield* collect(socket, true)
      const first = yield* TestEngine.nextConnection
      const second = yield* TestEngine.nextConnection
      expect(first).not.toBe(second)
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer(sendThenClose(["x"], new CloseReason({ code: 1000, message: "" }))))
    ))

  it.effect("closing the socket's scope closes a session still open with 1000, and the run ends", () =>
    Effect.gen(function*() {
      const opened = yield* Deferred.make<void>()
      const done = yield* Deferred.make<unknown>()
      yield* Effect.gen(function*() {
        const socket = yield* WebSockets.socket(url)
        yield* socket.runRaw(() => {}, { onOpen: Deferred.succeed(opened, undefined) }).pipe(
          Effect.exit,
          Effect.flatMap((exit) => Deferred.succeed(done, exit)),
          Effect.forkDaemon
        )
        yield* Deferred.await(opened)
      }).pipe(Effect.scoped)
      const exit = yield* Deferred.await(done)
      expect((exit as { _tag: string })._tag).toBe("Success")
      const server = yield* TestEngine.nextConnection
      const frames = Chunk.toReadonlyArray(yield* Stream.runCollect(server.incoming))
      expect(frames).toEqual([Frame.close(new CloseReason({ code: 1000, message: "" }))])
    }).pipe(Effect.provide(testLayer())))

  it.effect("layerSocket provides Socket.Socket", () =>
    Effect.gen(function*() {
      const socket = yield* Socket.Socket
      expect(Socket.isSocket(socket)).toBe(true)
      const { seen } = yield* collect(socket, true)
      expect(seen).toEqual(["hi"])
    }).pipe(
      Effect.provide(WebSockets.layerSocket(url)),
      Effect.provide(testLayer(sendThenClose(["hi"], new CloseReason({ code: 1000, message: "" }))))
    ))
})
