import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { AddressInfo, Socket } from "node:net"
import { fileURLToPath } from "node:url"
import { type PerMessageDeflateOptions, type WebSocket, WebSocketServer } from "ws"
import {
  CloseReason,
  type Engine,
  Frame,
  NodeEngine,
  type Session,
  WebSocketException,
  WebSockets
} from "../src/index.js"
import { startPython, stopPython } from "./helpers/python.js"

const DEFLATE_SERVER = fileURLToPath(new URL("./peers/deflate_server.py", import.meta.url))

/** A `ws` echo server on 127.0.0.1; `perMessageDeflate: false` is a server that does not agree to deflate. */
const wsServer = (perMessageDeflate: PerMessageDeflateOptions | false) =>
  Effect.acquireRelease(
    Effect.async<{ readonly wss: WebSocketServer; readonly sockets: Array<WebSocket> }>((resume) => {
      const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate })
      const sockets: Array<WebSocket> = []
      wss.on("connection", (socket) => {
        sockets.push(socket)
        socket.on("error", () => {})
        socket.on("message", (data: Buffer, isBinary) => socket.send(data, { binary: isBinary }))
      })
      wss.once("listening", () => resume(Effect.succeed({ wss, sockets })))
    }),
    ({ wss }) =>
      Effect.async<void>((resume) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ sockets, wss }) => ({
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/echo`,
    /** Bytes the server has read from the wire for its `n`-th connection. */
    bytesRead: (n: number) => (sockets[n] as unknown as { _socket: Socket })._socket.bytesRead,
    extensions: (n: number) => sockets[n]!.extensions
  })))

const pythonServer = Effect.acquireRelease(
  Effect.promise(() => startPython(DEFLATE_SERVER)),
  (server) => Effect.promise(() => stopPython(server))
)

const plugin = (options: WebSockets.Options) => WebSockets.layer(options).pipe(Layer.provide(NodeEngine.layer))

const randomBytes = (size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  for (let offset = 0; offset < size; offset += 65536) {
    globalThis.crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)))
  }
  return bytes
}

/** Every size from 0 to 99, then sizes up to about ten times that; half the messages compress well. */
const messages = (): ReadonlyArray<Uint8Array> => {
  const sizes = Array.from({ length: 100 }, (_, i) => i)
  for (let i = 0; i < 30; i++) sizes.push(100 + Math.floor(Math.random() * 900))
  sizes.push(1000)
  return sizes.map((size, i) => i % 2 === 0 ? randomBytes(size) : new Uint8Array(size).fill(i % 251))
}

/** Sends every message, then reads as many back: each must come back identical, in order. */
const echoesIdentical = (session: Session.DefaultClientWebSocketSession) =>
  Effect.gen(function*() {
    const sent = messages()
    for (const message of sent) yield* session.send(message)
    for (const message of sent) {
      const frame = yield* session.receive
      expect(frame._tag).toBe("Binary")
      expect(Buffer.from(Frame.readBytes(frame)).equals(Buffer.from(message))).toBe(true)
    }
    return sent.length
  })

const noContextTakeover = { clientNoContextTakeover: true, serverNoContextTakeover: true }

describe("permessage-deflate", () => {
  describe("through a deflate-enabled ws server", () => {
    for (
      const [name, deflate] of [
        ["deflate: true", true],
        ["compressing every message", { compressIfBiggerThan: 0 }],
        ["with no context takeover", { ...noContextTakeover, compressIfBiggerThan: 0 }]
      ] as const
    ) {
      it.scopedLive(`random binary messages of 0..1000 bytes echo identical (${name})`, () =>
        Effect.gen(function*() {
          const server = yield* wsServer({ threshold: 0 })
          const count = yield* WebSockets.webSocket(server.url, (session) =>
            Effect.gen(function*() {
              expect(session.call.extensions).toContain("permessage-deflate")
              if (typeof deflate === "object" && "clientNoContextTakeover" in deflate) {
                expect(session.call.extensions).toContain("client_no_context_takeover")
                expect(session.call.extensions).toContain("server_no_context_takeover")
              }
              return yield* echoesIdentical(session)
            })).pipe(Effect.provide(plugin({ extensions: { deflate } })))
          expect(count).toBe(131)
          expect(server.extensions(0)).toContain("permessage-deflate")
        }))
    }

    it.scopedLive("what goes on the wire is compressed: 100 KiB of zeros cost the server far less to read", () =>
      Effect.gen(function*() {
        const server = yield* wsServer({ threshold: 0 })
        yield* WebSockets.webSocket(server.url, (session) =>
          Effect.gen(function*() {
            const before = server.bytesRead(0)
            yield* session.send(new Uint8Array(100 * 1024))
            const echoed = yield* session.receive
            expect(Buffer.from(Frame.readBytes(echoed)).equals(Buffer.alloc(100 * 1024))).toBe(true)
            expect(server.bytesRead(0) - before).toBeLessThan(10 * 1024)
          })).pipe(Effect.provide(plugin({ extensions: { deflate: true } })))
      }))

    it.scopedLive("a server that does not agree leaves the session working, uncompressed", () =>
      Effect.gen(function*() {
        const server = yield* wsServer(false)
        yield* WebSockets.webSocket(server.url, (session) =>
          Effect.gen(function*() {
            expect(session.call.extensions).toBe("")
            expect(yield* echoesIdentical(session)).toBe(131)
            const before = server.bytesRead(0)
            yield* session.send(new Uint8Array(100 * 1024))
            yield* session.receive
            expect(server.bytesRead(0) - before).toBeGreaterThan(100 * 1024)
          })).pipe(Effect.provide(plugin({ extensions: { deflate: { compressIfBiggerThan: 0 } } })))
      }))
  })

  describe("through python3-websockets 10.4 (deflate on by default)", () => {
    for (
      const [name, deflate] of [
        ["compressing every message", { compressIfBiggerThan: 0 }],
        ["with no context takeover", { ...noContextTakeover, compressIfBiggerThan: 0 }]
      ] as const
    ) {
      it.scopedLive(`random binary messages of 0..1000 bytes echo identical (${name})`, () =>
        Effect.gen(function*() {
          const server = yield* pythonServer
          const count = yield* WebSockets.webSocket(server.url("/echo"), (session) =>
            Effect.gen(function*() {
              expect(session.call.extensions).toContain("permessage-deflate")
              if ("clientNoContextTakeover" in deflate) {
                expect(session.call.extensions).toContain("client_no_context_takeover")
                expect(session.call.extensions).toContain("server_no_context_takeover")
              }
              return yield* echoesIdentical(session)
            })).pipe(Effect.provide(plugin({ extensions: { deflate } })))
          expect(count).toBe(131)
        }), 20_000)
    }

    it.scopedLive(
      "a server that does not agree leaves the session working, uncompressed",
      () =>
        Effect.gen(function*() {
          const server = yield* pythonServer
          const count = yield* WebSockets.webSocket(server.url("/plain"), (session) =>
            Effect.gen(function*() {
              expect(session.call.extensions).toBe("")
              return yield* echoesIdentical(session)
            })).pipe(Effect.provide(plugin({ extensions: { deflate: true } })))
          expect(count).toBe(131)
        }),
      20_000
    )

    it.scopedLive(
      "a zip bomb (64 MiB of zeros, compressed) over maxFrameSize: 1009, FrameTooBig, bounded memory",
      () =>
        Effect.gen(function*() {
          const server = yield* pythonServer
          const layer = plugin({ maxFrameSize: 1024 * 1024, extensions: { deflate: true } })
          // warm up: load every code path once, so that the measurement sees only the bomb
          yield* WebSockets.webSocket(
            server.url("/echo"),
            (session) => Effect.zipRight(session.send(randomBytes(1000)), session.receive)
          ).pipe(Effect.provide(layer))
          const baseline = process.memoryUsage().rss
          let peak = baseline
          const sampler = yield* Effect.acquireRelease(
            Effect.sync(() => setInterval(() => peak = Math.max(peak, process.memoryUsage().rss), 1)),
            (timer) => Effect.sync(() => clearInterval(timer))
          )
          const { closeReason, error } = yield* Effect.scoped(
            Effect.gen(function*() {
              const session = yield* WebSockets.webSocketSession(server.url(`/bomb?size=${64 * 1024 * 1024}`))
              expect(session.call.extensions).toContain("permessage-deflate")
              const error = yield* Effect.flip(Stream.runDrain(session.incoming))
              return { error, closeReason: yield* session.closeReason }
            })
          ).pipe(Effect.provide(layer))
          clearInterval(sampler)
          peak = Math.max(peak, process.memoryUsage().rss)
          expect(error).toBeInstanceOf(WebSocketException)
          expect(error.reason).toBe("FrameTooBig")
          expect(closeReason).toEqual(Option.some(new CloseReason({ code: 1009, message: "" })))
          const growth = peak - baseline
          if (process.env["DEFLATE_REPORT"] !== undefined) console.log(`zip bomb: rss grew by ${growth} bytes`)
          expect(growth, `rss grew by ${(growth / 1048576).toFixed(1)} MiB`).toBeLessThan(16 * 1024 * 1024)
        }),
      20_000
    )
  })
})

describe("permessage-deflate limits (README: Compression)", () => {
  /** Echoes `size` random (incompressible) bytes through `url`; the echo arrives compressed, a little larger. */
  const echoRandom = (url: string, maxFrameSize: number, size: number) =>
    Effect.scoped(
      Effect.gen(function*() {
        const session = yield* WebSockets.webSocketSession(url)
        expect(session.call.extensions).toContain("permessage-deflate")
        const sent = randomBytes(size)
        yield* session.send(sent)
        const echoed = yield* Effect.either(session.receive)
        return { sent, echoed, closeReason: echoed._tag === "Left" ? yield* session.closeReason : Option.none() }
      })
    ).pipe(Effect.provide(plugin({ maxFrameSize, extensions: { deflate: { compressIfBiggerThan: 0 } } })))

  for (const peer of ["ws", "python3-websockets"] as const) {
    it.scopedLive(
      `maxFrameSize is the inflated size: 1,024 random bytes pass at 1024, 1,025 fail 1009 (${peer})`,
      () =>
        Effect.gen(function*() {
          const url = peer === "ws" ? (yield* wsServer({ threshold: 0 })).url : (yield* pythonServer).url("/echo")
          const exact = yield* echoRandom(url, 1024, 1024)
          expect(exact.echoed._tag).toBe("Right")
          if (exact.echoed._tag === "Right") {
            expect(Buffer.from(Frame.readBytes(exact.echoed.right)).equals(Buffer.from(exact.sent))).toBe(true)
          }
          const over = yield* echoRandom(url, 1024, 1025)
          expect(over.echoed._tag).toBe("Left")
          if (over.echoed._tag === "Left") {
            expect(over.echoed.left.reason).toBe("FrameTooBig")
          }
          expect(over.closeReason).toEqual(Option.some(new CloseReason({ code: 1009, message: "" })))
        }),
      20_000
    )
  }

  it.scopedLive("deflate offered but declined: maxFrameSize is still exact (1,024 pass, 1,025 fail 1009)", () =>
    Effect.gen(function*() {
      const server = yield* wsServer(false)
      const layer = plugin({ maxFrameSize: 1024, extensions: { deflate: true } })
      const exact = yield* WebSockets.webSocket(
        server.url,
        (session) => Effect.zipRight(session.send(new Uint8Array(1024)), session.receive)
      ).pipe(Effect.provide(layer))
      expect(Frame.readBytes(exact).byteLength).toBe(1024)
      const over = yield* WebSockets.webSocket(
        server.url,
        (session) => Effect.zipRight(session.send(new Uint8Array(1025)), session.receive)
      ).pipe(Effect.provide(layer), Effect.flip)
      expect(over.reason).toBe("FrameTooBig")
    }))

  it.scopedLive("a compressible message of maxFrameSize + 1 bytes (tiny on the wire) fails 1009 too", () =>
    Effect.gen(function*() {
      const server = yield* wsServer({ threshold: 0 })
      const error = yield* WebSockets.webSocket(
        server.url,
        (session) => Effect.zipRight(session.send(new Uint8Array(4097)), session.receive)
      ).pipe(
        Effect.provide(plugin({ maxFrameSize: 4096, extensions: { deflate: true } })),
        Effect.flip
      )
      expect(error.reason).toBe("FrameTooBig")
    }))

  /** Bytes the server read from the wire for one message of `data`, sent under `deflate`. */
  const wireBytes = (deflate: true | Engine.DeflateOptions, messages: ReadonlyArray<string | Uint8Array>) =>
    Effect.gen(function*() {
      const server = yield* wsServer({ threshold: 0 })
      return yield* WebSockets.webSocket(
        server.url,
        (session) =>
          Effect.forEach(messages, (data) =>
            Effect.gen(function*() {
              const before = server.bytesRead(0)
              yield* session.send(data)
              yield* session.receive
              // 2..14 bytes of frame header and mask
              return server.bytesRead(0) - before
            }))
      ).pipe(Effect.provide(plugin({ extensions: { deflate } })))
    })

  for (
    const [name, deflate] of [
      ["deflate: true (context takeover)", true],
      ["client_no_context_takeover", { clientNoContextTakeover: true }],
      ["server_no_context_takeover", { serverNoContextTakeover: true }]
    ] as const
  ) {
    it.scopedLive(`messages under 1024 bytes go uncompressed by default, larger ones compressed (${name})`, () =>
      Effect.gen(function*() {
        const [small, smallText, large, wideText] = yield* wireBytes(deflate, [
          new Uint8Array(1000),
          "a".repeat(1000),
          new Uint8Array(1024),
          // 600 characters but 1,200 UTF-8 bytes: over the threshold, as ws counts it
          "é".repeat(600)
        ])
        expect(small).toBeGreaterThanOrEqual(1000)
        expect(smallText).toBeGreaterThanOrEqual(1000)
        expect(large).toBeLessThan(100)
        expect(wideText).toBeLessThan(100)
      }))
  }

  for (
    const [name, deflate] of [
      ["context takeover", { compressIfBiggerThan: 4096 }],
      ["no context takeover", { compressIfBiggerThan: 4096, ...noContextTakeover }]
    ] as const
  ) {
    it.scopedLive(`compressIfBiggerThan: 4096 is honoured (${name})`, () =>
      Effect.gen(function*() {
        const [under, at] = yield* wireBytes(deflate, [new Uint8Array(4095), new Uint8Array(4096)])
        expect(under).toBeGreaterThanOrEqual(4095)
        expect(at).toBeLessThan(100)
      }))
  }
})
