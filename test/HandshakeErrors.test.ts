/**
 * Handshake and connect errors say what was wrong (README: Connecting): a 101 that is not an upgrade, a refused or
 * unexpected subprotocol, and a URL password shown as a readable `<redacted>`, never percent-encoded.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { WebSocket as WsWebSocket } from "ws"
import * as BrowserEngine from "../src/BrowserEngine.js"
import type * as Transport from "../src/core/transport.js"
import type * as Engine from "../src/Engine.js"
import { WebSocketException, WebSockets } from "../src/index.js"
import * as HandshakeErrors from "../src/internal/handshakeErrors.js"
import * as NodeEngine from "../src/NodeEngine.js"
import { live, renderings } from "./helpers/layers.js"
import { freePort, server, tcpServer } from "./helpers/wsServer.js"

const acceptOf = (request: string): string => {
  const key = /sec-websocket-key: *(\S+)/i.exec(request)![1]!
  return createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64")
}

/** A raw TCP peer that answers the upgrade request with `answer(request)` and then stays silent. */
const answering = (answer: (request: string) => string) =>
  tcpServer((socket) => {
    socket.once("data", (data) => socket.write(answer(data.toString())))
  })

const open = (request: WebSockets.Request) =>
  WebSockets.webSocketSession(request).pipe(Effect.scoped, Effect.provide(live()), Effect.flip)

describe("handshake errors name what was wrong", () => {
  it.scopedLive("101 without Connection: Upgrade is a Handshake error saying so, not 'expected 101 but was 101'", () =>
    Effect.gen(function*() {
      const tcp = yield* answering((request) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${acceptOf(request)}\r\n\r\n`
      )
      const error = yield* open(`ws://127.0.0.1:${tcp.port}/`)
      expect(error).toBeInstanceOf(WebSocketException)
      expect(error.reason).toBe("Handshake")
      expect(error.message).not.toContain("expected status code 101 but was 101")
      expect(error.message).toContain("Connection: Upgrade")
      expect(error.message).not.toContain("Upgrade: websocket")
    }))

  it.scopedLive("101 without Upgrade: websocket names that header", () =>
    Effect.gen(function*() {
      const tcp = yield* answering((request) =>
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptOf(request)}\r\n\r\n`
      )
      const error = yield* open(`ws://127.0.0.1:${tcp.port}/`)
      expect(error.reason).toBe("Handshake")
      expect(error.message).not.toContain("expected status code 101 but was 101")
      expect(error.message).toMatch(/Upgrade/)
    }))

  it.scopedLive("offered protocols refused: Handshake saying the server accepted none of them, no status 101", () =>
    Effect.gen(function*() {
      const srv = yield* server({ options: { handleProtocols: () => false } })
      const error = yield* open({ url: srv.url("/"), protocols: ["chat", "superchat"] })
      expect(error.reason).toBe("Handshake")
      expect(error.status).toBeUndefined()
      expect(error.message).toContain("did not accept any of the offered protocols")
      expect(error.message).toContain(`"chat", "superchat"`)
    }))

  it.scopedLive("a protocol the client did not offer: Handshake naming the chosen and the offered ones", () =>
    Effect.gen(function*() {
      const tcp = yield* answering((request) =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${acceptOf(request)}\r\nSec-WebSocket-Protocol: other\r\n\r\n`
      )
      const error = yield* open({ url: `ws://127.0.0.1:${tcp.port}/`, protocols: ["chat"] })
      expect(error.reason).toBe("Handshake")
      expect(error.status).toBeUndefined()
      expect(error.message).toContain(`"other", which was not offered`)
      expect(error.message).toContain(`"chat"`)
      const unasked = yield* open(`ws://127.0.0.1:${tcp.port}/`)
      expect(unasked.message).toContain("though none was offered")
    }))

  it.scopedLive("a status other than 101 keeps the exact message and its status", () =>
    Effect.gen(function*() {
      const tcp = yield* answering(() => "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
      const error = yield* open(`ws://127.0.0.1:${tcp.port}/`)
      expect(error.status).toBe(403)
      expect(error.message).toBe("Handshake exception, expected status code 101 but was 403")
    }))
})

describe("a URL password reads <redacted> in messages, never %3Credacted%3E, never itself", () => {
  const password = "hunter2-s3cret"

  it.scopedLive("in Connect and Handshake errors", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      const connect = yield* open(`ws://alice:${password}@127.0.0.1:${port}/chat?room=1`)
      expect(connect.reason).toBe("Connect")
      expect(connect.message).toContain(`ws://alice:<redacted>@127.0.0.1:${port}/chat?room=1`)
      expect(connect.message).toContain("ECONNREFUSED")
      const tcp = yield* answering((request) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${acceptOf(request)}\r\n\r\n`
      )
      const handshake = yield* open(`ws://alice:${password}@127.0.0.1:${tcp.port}/`)
      expect(handshake.message).toContain(`ws://alice:<redacted>@127.0.0.1:${tcp.port}/`)
      for (const error of [connect, handshake]) {
        for (const text of renderings(error)) {
          expect(text).not.toContain(password)
          expect(text).not.toContain("%3Credacted%3E")
        }
      }
    }))
})

describe("one failure, one text: the engines' failures are worded in one place (internal/handshakeErrors.ts)", () => {
  const listener: Engine.Listener = {
    onOpen: () => {},
    onMessage: () => {},
    onPing: () => {},
    onPong: () => {},
    onViolation: () => {},
    onClose: () => {}
  }
  const connectRequest = (url: string): Engine.ConnectRequest => ({
    url: new URL(url),
    headers: {},
    protocols: [],
    maxFrameSize: 1024,
    deflate: undefined
  })
  const engines = [NodeEngine.make, BrowserEngine.makeConstructor(WsWebSocket)]

  it.scopedLive("a refused upgrade (403) reads the same on NodeEngine and BrowserEngine", () =>
    Effect.gen(function*() {
      const ws = yield* server({ options: { verifyClient: (_info, cb) => cb(false, 403) } })
      const errors = yield* Effect.forEach(engines, (engine) =>
        Effect.flip(engine.connect(connectRequest(ws.url()), listener)))
      expect(errors.map((e) => [e.reason, e.status, e.message])).toEqual([
        ["Handshake", 403, "Handshake exception, expected status code 101 but was 403"],
        ["Handshake", 403, "Handshake exception, expected status code 101 but was 403"]
      ])
    }))

  it("every failure description is worded with the URL's password redacted, in the message and the kept cause", () => {
    const url = new URL("ws://user:hunter2@a.test/x")
    const failures: ReadonlyArray<Transport.ConnectFailure> = [
      { _tag: "UnexpectedStatus", status: 500 },
      { _tag: "NotUpgraded", headers: { upgrade: "websocket" } },
      { _tag: "AnswerRejected", problem: "Server sent no subprotocol", offered: ["a"], chosen: undefined },
      { _tag: "MalformedAnswer", code: "HPE_INVALID_CONSTANT", cause: new Error("parse") },
      { _tag: "TransportFailed", code: "ECONNREFUSED", message: "ws://user:hunter2@a.test refused", cause: undefined },
      { _tag: "Unreachable", detail: "failed: ws://user:hunter2@a.test/x" },
      { _tag: "Refused", cause: new Error("bad ws://user:hunter2@a.test/x") },
      { _tag: "NotStarted", cause: new Error("no hunter2") },
      { _tag: "ClosedDuringHandshake" },
      { _tag: "Unsupported", setting: "headers", why: "no headers" }
    ]
    for (const failure of failures) {
      const error = HandshakeErrors.fromFailure(url, failure)
      expect(error).toBeInstanceOf(WebSocketException)
      expect(error.message).not.toContain("hunter2")
      expect(String((error.cause as Error | undefined)?.message ?? "")).not.toContain("hunter2")
    }
    expect(HandshakeErrors.fromFailure(url, { _tag: "ClosedDuringHandshake" }).message).toBe(
      "Could not connect to ws://user:<redacted>@a.test/x: the connection closed during the handshake"
    )
    expect(HandshakeErrors.fromFailure(url, { _tag: "Unsupported", setting: "headers", why: "no" }).reason).toBe(
      "Capability"
    )
  })
})
