/**
 * docs/API.md §1 (installing the plugin: config resolution, layerConfig) and §2 (connecting: builders, how a session
 * ends, handshake errors, redaction), against real sockets on 127.0.0.1.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import { CloseReason, NodeEngine, WebSocketException, WebSockets } from "../src/index.js"
import { guard, live, renderings, until } from "./helpers/layers.js"
import { freePort, idle, server, tcpServer } from "./helpers/wsServer.js"

const configOf = (layer: Layer.Layer<WebSockets.WebSockets>) =>
  Effect.map(WebSockets.WebSockets, (s) => s.config).pipe(Effect.provide(layer))

/** The defect a layer build dies with, rendered. */
const buildDefect = (layer: Layer.Layer<WebSockets.WebSockets, unknown>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.provide(WebSockets.WebSockets, layer))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isSuccess(exit)) return ""
    const defect = Cause.dieOption(exit.cause)
    expect(Option.isSome(defect)).toBe(true)
    return String(Option.getOrUndefined(defect))
  })

describe("§1 installing the plugin", () => {
  it.effect("defaults: no pinger, timeout 15 s when the pinger is off, maxFrameSize 100 MiB, connectTimeout 10 s", () =>
    Effect.gen(function*() {
      const config = yield* configOf(live())
      expect(Option.isNone(config.pingInterval)).toBe(true)
      expect(Duration.toMillis(config.timeout)).toBe(15_000)
      expect(config.maxFrameSize).toBe(100 * 1024 * 1024)
      expect(Duration.toMillis(config.connectTimeout)).toBe(10_000)
      expect(Option.isNone(config.contentConverter)).toBe(true)
    }))

  it.effect("timeout defaults to 2 × pingInterval", () =>
    Effect.gen(function*() {
      const config = yield* configOf(live({ pingInterval: "20 seconds" }))
      expect(Option.map(config.pingInterval, Duration.toMillis)).toEqual(Option.some(20_000))
      expect(Duration.toMillis(config.timeout)).toBe(40_000)
      const explicit = yield* configOf(live({ pingInterval: "20 seconds", timeout: "3 seconds" }))
      expect(Duration.toMillis(explicit.timeout)).toBe(3_000)
    }))

  it.effect("PINGER_DISABLED === 0, and pingInterval 0 or PINGER_DISABLED means no pinger", () =>
    Effect.gen(function*() {
      expect(WebSockets.PINGER_DISABLED).toBe(0)
      for (const pingInterval of [0, WebSockets.PINGER_DISABLED, "0 millis"] as const) {
        const config = yield* configOf(live({ pingInterval }))
        expect(Option.isNone(config.pingInterval)).toBe(true)
        expect(Duration.toMillis(config.timeout)).toBe(15_000)
      }
    }))

  it.effect("the explicit settings are resolved as given", () =>
    Effect.gen(function*() {
      const config = yield* configOf(live({ maxFrameSize: 1024, connectTimeout: "2 seconds", timeout: "1 second" }))
      expect(config.maxFrameSize).toBe(1024)
      expect(Duration.toMillis(config.connectTimeout)).toBe(2_000)
      expect(Duration.toMillis(config.timeout)).toBe(1_000)
    }))

  it.effect("bad config is a defect at layer build with a message naming the field", () =>
    Effect.gen(function*() {
      expect(yield* buildDefect(live({ pingInterval: -1 }))).toContain("pingInterval")
      expect(yield* buildDefect(live({ pingInterval: "-5 seconds" }))).toContain("pingInterval")
      expect(yield* buildDefect(live({ timeout: -1 }))).toContain("timeout")
      expect(yield* buildDefect(live({ connectTimeout: "-1 seconds" }))).toContain("connectTimeout")
      expect(yield* buildDefect(live({ maxFrameSize: 0 }))).toContain("maxFrameSize")
      expect(yield* buildDefect(live({ maxFrameSize: -10 }))).toContain("maxFrameSize")
    }))

  const fromEnv = (entries: ReadonlyArray<readonly [string, string]>) =>
    ConfigProvider.fromMap(new Map(entries), { pathDelim: "_" })

  it.effect("layerConfig reads WEBSOCKETS_* settings through Effect.withConfigProvider", () =>
    Effect.gen(function*() {
      const config = yield* Effect.map(WebSockets.WebSockets, (s) => s.config).pipe(
        Effect.provide(WebSockets.layerConfig().pipe(Layer.provide(NodeEngine.layer))),
        Effect.withConfigProvider(fromEnv([
          ["WEBSOCKETS_PING_INTERVAL", "3 seconds"],
          ["WEBSOCKETS_MAX_FRAME_SIZE", "2048"],
          ["WEBSOCKETS_CONNECT_TIMEOUT", "4 seconds"]
        ]))
      )
      expect(Option.map(config.pingInterval, Duration.toMillis)).toEqual(Option.some(3_000))
      expect(Duration.toMillis(config.timeout)).toBe(6_000)
      expect(config.maxFrameSize).toBe(2048)
      expect(Duration.toMillis(config.connectTimeout)).toBe(4_000)
    }))

  it.effect("layerConfig reads settings through Layer.setConfigProvider, and defaults what is absent", () =>
    Effect.gen(function*() {
      const layer = WebSockets.layerConfig().pipe(
        Layer.provide(NodeEngine.layer),
        Layer.provide(Layer.setConfigProvider(fromEnv([["WEBSOCKETS_TIMEOUT", "7 seconds"]])))
      )
      const config = yield* Effect.map(WebSockets.WebSockets, (s) => s.config).pipe(Effect.provide(layer))
      expect(Duration.toMillis(config.timeout)).toBe(7_000)
      expect(Option.isNone(config.pingInterval)).toBe(true)
      expect(config.maxFrameSize).toBe(100 * 1024 * 1024)
      expect(Duration.toMillis(config.connectTimeout)).toBe(10_000)
    }))

  it.effect("layerConfig: a bad value is a defect naming the field, an unreadable one a ConfigError", () =>
    Effect.gen(function*() {
      const message = yield* buildDefect(
        WebSockets.layerConfig().pipe(
          Layer.provide(NodeEngine.layer),
          Layer.provide(Layer.setConfigProvider(fromEnv([["WEBSOCKETS_MAX_FRAME_SIZE", "0"]])))
        )
      )
      expect(message).toContain("maxFrameSize")
      const exit = yield* Effect.exit(
        Effect.provide(
          WebSockets.WebSockets,
          WebSockets.layerConfig().pipe(
            Layer.provide(NodeEngine.layer),
            Layer.provide(Layer.setConfigProvider(fromEnv([["WEBSOCKETS_MAX_FRAME_SIZE", "lots"]])))
          )
        )
      )
      expect(Exit.isFailure(exit) && Option.isSome(Cause.failureOption(exit.cause))).toBe(true)
    }))

  it.scopedLive("a session opened through layerConfig runs with the configured settings", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const session = yield* WebSockets.webSocketSession(srv.url("/")).pipe(
        Effect.provide(WebSockets.layerConfig().pipe(Layer.provide(NodeEngine.layer))),
        Effect.withConfigProvider(fromEnv([["WEBSOCKETS_MAX_FRAME_SIZE", "4096"], ["WEBSOCKETS_TIMEOUT", "9 seconds"]]))
      )
      expect(session.maxFrameSize).toBe(4096)
      expect(Duration.toMillis(session.timeout)).toBe(9_000)
      yield* session.send("configured")
      expect((yield* session.receive)._tag).toBe("Text")
    }))
})

class BlockError extends Data.TaggedError("BlockError")<{ readonly n: number }> {}

describe("§2 connecting: how sessions end", () => {
  it.scopedLive("webSocketSession: when its scope closes it sends Close(1000) and waits for the peer's Close", () =>
    Effect.gen(function*() {
      const srv = yield* server({ behaviours: { "*": idle } })
      const events: Array<string> = []
      const session = yield* Effect.scoped(
        Effect.gen(function*() {
          const session = yield* WebSockets.webSocketSession(srv.url("/"))
          const conn = yield* Effect.promise(() => srv.nthConnection(1))
          // the server stops reading, so it answers our Close only once it resumes
          conn.socket.pause()
          yield* Effect.sync(() =>
            setTimeout(() => {
              events.push("peer answers")
              conn.socket.resume()
            }, 200)
          )
          return session
        })
      ).pipe(Effect.provide(live()), guard(10_000, "closing the scope"))
      events.push("scope closed")
      expect(events).toEqual(["peer answers", "scope closed"])
      const closed = yield* Effect.promise(() => srv.connections[0]!.closed)
      expect(closed.code).toBe(1000)
      expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1000, message: "" })))
    }))

  it.scopedLive(
    "webSocketSession: a peer that never answers the Close is dropped after at most 5 s",
    () =>
      Effect.gen(function*() {
        const srv = yield* server({ behaviours: { "*": idle } })
        const session = yield* Effect.scoped(
          Effect.gen(function*() {
            const session = yield* WebSockets.webSocketSession(srv.url("/")) // the server never reads again, so it never sees (nor answers) our Close
            ;(yield* Effect.promise(() => srv.nthConnection(1))).socket.pause()
            return session
          })
        ).pipe(Effect.provide(live()), guard(15_000, "closing the scope against a silent peer"))
        // the scope closed although the peer never answered; the session ended with the reason we sent
        expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1000, message: "" })))
        // the client dropped the TCP connection: once the server reads again it finds our Close, then the end
        const conn = srv.connections[0]!
        expect(conn.socket.readyState).toBe(conn.socket.OPEN)
        conn.socket.resume()
        expect((yield* Effect.promise(() => conn.closed)).code).toBe(1000)
      }),
    20_000
  )

  it.scopedLive("webSocket: the block succeeds → Close(1000 NORMAL), its value is returned", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const value = yield* WebSockets.webSocket(srv.url("/"), (session) =>
        Effect.gen(function*() {
          yield* session.send("hi")
          return yield* session.receive
        })).pipe(Effect.provide(live()))
      expect(value).toEqual({ _tag: "Text", fin: true, data: "hi" })
      expect((yield* Effect.promise(() => srv.connections[0]!.closed)).code).toBe(1000)
    }))

  it.scopedLive("webSocket: the block fails → Close(1011 INTERNAL_ERROR) and its own error passes through unchanged", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const original = new BlockError({ n: 42 })
      const error = yield* WebSockets.webSocket(srv.url("/"), (session) =>
        Effect.gen(function*() {
          yield* session.send("before failing")
          yield* session.receive
          return yield* Effect.fail(original)
        })).pipe(Effect.provide(live()), Effect.flip)
      expect(error).toBe(original)
      expect((yield* Effect.promise(() => srv.connections[0]!.closed)).code).toBe(1011)
    }))

  it.scopedLive("webSocket: the block is interrupted → Close(1001 GOING_AWAY)", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const started = yield* Deferred.make<void>()
      const fiber = yield* WebSockets.webSocket(
        srv.url("/"),
        () => Effect.zipRight(Deferred.succeed(started, void 0), Effect.never)
      ).pipe(Effect.provide(live()), Effect.fork)
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect((yield* Effect.promise(() => srv.connections[0]!.closed)).code).toBe(1001)
    }))

  it.scopedLive("webSocket interrupted at any point of the opening: Close(1001) or an aborted handshake, never 1000", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const layer = live()
      for (let i = 0; i < 48; i++) {
        const fiber = yield* WebSockets.webSocket(srv.url("/"), () => Effect.never).pipe(
          Effect.provide(layer),
          Effect.fork
        )
        // the last rounds wait long enough for the session to open even on a loaded machine, so that 1001 is seen
        yield* Effect.sleep(i < 44 ? i % 12 : 500)
        yield* Fiber.interrupt(fiber)
      }
      const codes = yield* Effect.promise(() => Promise.all(srv.connections.map((c) => c.closed)))
      // 1001 once the session was open, 1006 when the handshake was aborted before the client saw the 101
      expect(codes.filter(({ code }) => code !== 1001 && code !== 1006)).toEqual([])
      expect(codes.some(({ code }) => code === 1001)).toBe(true)
    }))

  it.scopedLive("webSocket: a defect in the block → Close(1011), the defect passes through", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const exit = yield* WebSockets.webSocket(srv.url("/"), () => Effect.dieMessage("boom")).pipe(
        Effect.provide(live()),
        Effect.exit
      )
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect((yield* Effect.promise(() => srv.connections[0]!.closed)).code).toBe(1011)
    }))
})

describe("§2 connecting: handshake errors", () => {
  it.scopedLive("a status other than 101 → Handshake with that status and the exact message", () =>
    Effect.gen(function*() {
      const srv = yield* server({ options: { verifyClient: (_info, cb) => cb(false, 500) } })
      const error = yield* WebSockets.webSocket(srv.url("/"), () => Effect.void).pipe(
        Effect.provide(live()),
        Effect.flip
      )
      expect(error).toBeInstanceOf(WebSocketException)
      expect(error.reason).toBe("Handshake")
      expect(error.status).toBe(500)
      expect(error.message).toBe("Handshake exception, expected status code 101 but was 500")
    }))

  it.scopedLive("a plain HTTP answer (404 from a raw TCP server) → Handshake with status 404", () =>
    Effect.gen(function*() {
      const tcp = yield* tcpServer((socket) => {
        socket.once(
          "data",
          () => socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        )
      })
      const error = yield* WebSockets.webSocketSession(`ws://127.0.0.1:${tcp.port}/`).pipe(
        Effect.provide(live()),
        Effect.flip
      )
      expect(error.reason).toBe("Handshake")
      expect(error.status).toBe(404)
      expect(error.message).toBe("Handshake exception, expected status code 101 but was 404")
    }))

  it.live("connection refused → Connect", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      const error = yield* WebSockets.webSocket(`ws://127.0.0.1:${port}/`, () => Effect.void).pipe(
        Effect.provide(live()),
        Effect.flip
      )
      expect(error).toBeInstanceOf(WebSocketException)
      expect(error.reason).toBe("Connect")
    }))

  it.scopedLive("a TCP server that accepts and never answers → Timeout within connectTimeout", () =>
    Effect.gen(function*() {
      // reads (and drops) the upgrade request, never answers
      const tcp = yield* tcpServer((socket) => socket.resume())
      const error = yield* WebSockets.webSocketSession(`ws://127.0.0.1:${tcp.port}/`).pipe(
        Effect.provide(live({ connectTimeout: "300 millis" })),
        Effect.flip,
        guard(5_000, "the connect timeout")
      )
      expect(error.reason).toBe("Timeout")
      expect(tcp.sockets.length).toBe(1)
      // the abandoned attempt does not leak its socket
      const socket = tcp.sockets[0]!
      yield* until(() => socket.destroyed)
    }))

  it.scopedLive("offered protocols the server does not accept → Handshake", () =>
    Effect.gen(function*() {
      const srv = yield* server({ options: { handleProtocols: () => false } })
      const error = yield* WebSockets.webSocket({ url: srv.url("/"), protocols: ["chat"] }, () => Effect.void).pipe(
        Effect.provide(live()),
        Effect.flip
      )
      expect(error.reason).toBe("Handshake")
    }))

  it.scopedLive("a server choosing a protocol that was not offered → Handshake", () =>
    Effect.gen(function*() {
      const tcp = yield* tcpServer((socket) => {
        socket.once("data", (data) => {
          const key = /sec-websocket-key: *(\S+)/i.exec(data.toString())![1]!
          const accept = createHash("sha1")
            .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64")
          socket.write(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
              `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: other\r\n\r\n`
          )
        })
      })
      const error = yield* WebSockets.webSocketSession({ url: `ws://127.0.0.1:${tcp.port}/`, protocols: ["chat"] })
        .pipe(Effect.provide(live()), Effect.flip)
      expect(error.reason).toBe("Handshake")
    }))
})

describe("§2 connecting: secrets never appear in errors or logs", () => {
  const password = "pa55w0rd-s3cret"
  const token = "t0ken-v4lue-s3cret"
  const headers = { authorization: Redacted.make(`Bearer ${token}`), "x-api-key": Redacted.make(token) }

  const expectClean = (error: unknown) => {
    for (const text of renderings(error)) {
      expect(text).not.toContain(password)
      expect(text).not.toContain(token)
    }
  }

  it.scopedLive("URL passwords and Redacted header values are absent from Handshake, Connect, Timeout errors", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ message, cause }) => {
        logs.push(`${String(message)} ${Cause.pretty(cause)}`)
      })
      const run = (url: string, options: WebSockets.Options = {}) =>
        WebSockets.webSocket({ url, headers }, () => Effect.void).pipe(
          Effect.provide(live(options)),
          Effect.flip,
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )

      const refusing = yield* server({ options: { verifyClient: (_info, cb) => cb(false, 500) } })
      const handshake = yield* run(refusing.url("/").replace("ws://", `ws://user:${password}@`))
      expect(handshake.reason).toBe("Handshake")
      expectClean(handshake)
      const port = yield* Effect.promise(() => freePort())
      const connect = yield* run(`ws://user:${password}@127.0.0.1:${port}/`)
      expect(connect.reason).toBe("Connect")
      expectClean(connect)

      const silent = yield* tcpServer(() => {})
      const timeout = yield* run(`ws://user:${password}@127.0.0.1:${silent.port}/`, { connectTimeout: "200 millis" })
      expect(timeout.reason).toBe("Timeout")
      expectClean(timeout)

      const noProtocol = yield* server({ options: { handleProtocols: () => false } })
      const protocol = yield* WebSockets.webSocket(
        { url: noProtocol.url("/").replace("ws://", `ws://user:${password}@`), headers, protocols: ["chat"] },
        () => Effect.void
      ).pipe(Effect.provide(live()), Effect.flip)
      expect(protocol.reason).toBe("Handshake")
      expectClean(protocol)

      const invalid = yield* run(`ws://user:${password}@127.0.0.1:99999/`)
      expect(invalid.reason).toBe("Connect")
      expectClean(invalid)

      for (const line of logs) {
        expect(line).not.toContain(password)
        expect(line).not.toContain(token)
      }
    }))

  it.scopedLive("the secrets are sent to the server (Basic auth from the URL, the Redacted header values)", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      yield* WebSockets.webSocket(
        { url: srv.url("/").replace("ws://", `ws://user:${password}@`), headers },
        (s) => s.send("x")
      ).pipe(Effect.provide(live()))
      const request = srv.connections[0]!.request
      expect(request.headers["x-api-key"]).toBe(token)
      expect(request.headers.authorization).toBe(`Bearer ${token}`)
    }))

  it.scopedLive("a Closed error after the session ended carries no secret either", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const error = yield* WebSockets.webSocketSession({
        url: srv.url("/").replace("ws://", `ws://user:${password}@`),
        headers
      }).pipe(
        Effect.tap((s) => s.close()),
        Effect.flatMap((s) => Effect.zipRight(s.closeReason, s.send("late"))),
        Effect.provide(live()),
        Effect.flip
      )
      expect(error.reason).toBe("Closed")
      expectClean(error)
    }))
})
