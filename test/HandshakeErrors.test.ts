/**
 * Handshake and connect errors say what was wrong (README: Connecting): a 101 that is not an upgrade, a refused or
 * unexpected subprotocol, and a URL password shown as a readable `<redacted>`, never percent-encoded.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { WebSocketException, WebSockets } from "../src/index.js"
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
