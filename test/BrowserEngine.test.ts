/**
 * BrowserEngine on Node 20 over `ws`'s `WebSocket` (`BrowserEngine.layerConstructor`): the behaviour suite, and the
 * rules of docs/BrowserEngine.md that hold whatever the runtime (capabilities, close codes, sizes, backpressure,
 * handshake errors). The same suite runs on the runtimes' own `WebSocket` in BrowserEngine.runtimes.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { build } from "esbuild"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import { WebSocket, WebSocketServer } from "ws"
import { BrowserEngine, CloseReason, Engine, Frame, WebSocketException, WebSockets } from "../src/index.js"
import { nodePeer } from "./behaviour/nodePeer.js"
import { behaviourSuite } from "./behaviour/suite.js"

const WsLive = BrowserEngine.layerConstructor(WebSocket as unknown as BrowserEngine.WebSocketConstructor)

behaviourSuite({
  name: "BrowserEngine over ws's WebSocket (Node 20, ws server on 127.0.0.1)",
  describe,
  test: (name, self, timeout) => it.scopedLive(name, self, timeout ?? 10_000),
  notApplicable: (name, lack) =>
    it.skip(`${name} — not applicable: the standard WebSocket API lacks ${lack} (docs/BrowserEngine.md)`, () => {}),
  lacks: ["pingFrames", "peerViolations"],
  peer: (options) => Effect.map(nodePeer(options), (peer) => ({ ...peer, engine: WsLive })),
  advance: (duration) => Effect.sleep(duration)
})

/** `ws`'s class held to the standard API's close codes, as browsers and Deno are. */
class StandardCodes extends WebSocket {
  override close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new DOMException(`The close code must be either 1000 or in the range of 3000 to 4999`, "InvalidAccessError")
    }
    super.close(code, reason)
  }
}

/** `ws`'s class taking `new C(url, { headers, protocols })`, as Bun's and Deno's do. */
class WithHeaders extends WebSocket {
  static urls: Array<string> = []
  constructor(url: string, options: { headers: Record<string, string>; protocols: Array<string> }) {
    WithHeaders.urls.push(url)
    super(url, options.protocols, { headers: options.headers })
  }
}

/** A `ws` server on 127.0.0.1 for one test; `onConnection` scripts it. */
const server = (
  onConnection: (socket: WebSocket, request: import("node:http").IncomingMessage) => void,
  options: { readonly perMessageDeflate?: boolean } = {}
) =>
  Effect.acquireRelease(
    Effect.async<WebSocketServer>((resume) => {
      const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options })
      wss.on("connection", onConnection)
      wss.once("listening", () => resume(Effect.succeed(wss)))
    }),
    (wss) =>
      Effect.async<void>((resume) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map((wss) => `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`))

const plugin = (engine: Layer.Layer<Engine.Engine>, options: WebSockets.Options = {}) =>
  WebSockets.layer(options).pipe(Layer.provide(engine))

describe("BrowserEngine", () => {
  it("declares what the standard API can do: never pings; headers and deflate where the class offers them", () => {
    const plain = BrowserEngine.makeConstructor(WebSocket as unknown as BrowserEngine.WebSocketConstructor)
    expect([...plain.capabilities].sort()).toEqual(
      [Engine.MaxFrameSizeCapability, Engine.ProtocolsCapability, Engine.WebSocketCapability].sort()
    )
    const bunLike = BrowserEngine.makeConstructor(WithHeaders as unknown as BrowserEngine.WebSocketConstructor, {
      headers: true,
      deflate: true
    })
    expect(bunLike.capabilities.has(Engine.HeadersCapability)).toBe(true)
    expect(bunLike.capabilities.has(Engine.WebSocketExtensionsCapability)).toBe(true)
    expect(bunLike.capabilities.has(Engine.PingCapability)).toBe(false)
  })

  it.effect("layer without a global WebSocket (Node 20): a connection fails with Capability naming WebSockets", () =>
    Effect.gen(function*() {
      const global = globalThis as { WebSocket?: unknown }
      const saved = global.WebSocket
      delete global.WebSocket
      const engine = BrowserEngine.make()
      global.WebSocket = saved
      if (saved === undefined) delete global.WebSocket
      expect(engine.capabilities.size).toBe(0)
      const error = yield* Effect.flip(
        WebSockets.webSocket("ws://127.0.0.1:1/", () => Effect.void).pipe(
          Effect.provide(plugin(Layer.succeed(Engine.Engine, engine)))
        )
      )
      expect(error.reason).toBe("Capability")
      expect(error.message).toContain("WebSockets")
    }))

  it.scopedLive("pingInterval fails with Capability before anything connects", () =>
    Effect.gen(function*() {
      let connections = 0
      const url = yield* server(() => connections++)
      const error = yield* Effect.flip(
        WebSockets.webSocket(url, () => Effect.void).pipe(
          Effect.provide(plugin(WsLive, { pingInterval: "1 second" }))
        )
      )
      expect(error.reason).toBe("Capability")
      expect(error.message).toContain("pingInterval")
      expect(connections).toBe(0)
    }))

  it.scopedLive("deflate: true is the runtime's choice; deflate settings fail with Capability naming extensions", () =>
    Effect.gen(function*() {
      const url = yield* server(() => {}, { perMessageDeflate: true })
      const Deflating = BrowserEngine.layerConstructor(WebSocket as unknown as BrowserEngine.WebSocketConstructor, {
        deflate: true
      })
      const extensions = yield* WebSockets.webSocket(url, (session) => Effect.succeed(session.call.extensions)).pipe(
        Effect.provide(plugin(Deflating, { extensions: { deflate: true } }))
      )
      expect(extensions).toContain("permessage-deflate")
      const error = yield* Effect.flip(
        WebSockets.webSocket(url, () => Effect.void).pipe(
          Effect.provide(plugin(Deflating, { extensions: { deflate: { clientNoContextTakeover: true } } }))
        )
      )
      expect(error.reason).toBe("Capability")
      expect(error.message).toContain("extensions")
      // a class that does not offer deflate cannot honour even `true`
      const plain = yield* Effect.flip(
        WebSockets.webSocket(url, () => Effect.void).pipe(
          Effect.provide(plugin(WsLive, { extensions: { deflate: true } }))
        )
      )
      expect(plain.reason).toBe("Capability")
    }))

  it.scopedLive("headers go where the class takes them; URL credentials become Basic auth, never part of the URL", () =>
    Effect.gen(function*() {
      const seen: Array<Record<string, string | Array<string> | undefined>> = []
      const url = yield* server((_socket, request) => seen.push(request.headers))
      const Headers = BrowserEngine.layerConstructor(WithHeaders as unknown as BrowserEngine.WebSocketConstructor, {
        headers: true
      })
      WithHeaders.urls = []
      const withCredentials = url.replace("ws://", "ws://alice:s3cret@")
      const protocol = yield* WebSockets.webSocket(
        { url: withCredentials, headers: { "x-token": "abc" }, protocols: ["chat"] },
        (session) => Effect.succeed(session.call.protocol)
      ).pipe(Effect.provide(plugin(Headers)))
      expect(protocol).toBe("chat")
      expect(seen[0]!["x-token"]).toBe("abc")
      expect(seen[0]!["authorization"]).toBe(`Basic ${Buffer.from("alice:s3cret").toString("base64")}`)
      expect(seen[0]!["sec-websocket-protocol"]).toBe("chat")
      expect(WithHeaders.urls).toEqual([url])
      // without headers, neither explicit headers nor credentials can be honoured
      for (const request of [{ url, headers: { "x-token": "abc" } }, withCredentials]) {
        const error = yield* Effect.flip(
          WebSockets.webSocket(request, () => Effect.void).pipe(Effect.provide(plugin(WsLive)))
        )
        expect(error.reason).toBe("Capability")
        expect(error.message).toContain("headers")
        expect(error.message).not.toContain("s3cret")
      }
      expect(seen.length).toBe(1)
    }))

  it.scopedLive("a code the runtime refuses is sent as 4000 + (code − 1000): 1011 → 4011, 1001 → 4001", () =>
    Effect.gen(function*() {
      const codes: Array<number> = []
      const url = yield* server((socket) => socket.on("close", (code) => codes.push(code)))
      const Standard = BrowserEngine.layerConstructor(StandardCodes as unknown as BrowserEngine.WebSocketConstructor)
      const failed = yield* Effect.flip(
        WebSockets.webSocket(url, () => Effect.fail("boom" as const)).pipe(Effect.provide(plugin(Standard)))
      )
      expect(failed).toBe("boom")
      const fiber = yield* Effect.fork(
        WebSockets.webSocket(url, () => Effect.never).pipe(Effect.provide(plugin(Standard)))
      )
      yield* Effect.sleep("200 millis")
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep("100 millis")
      expect(codes).toEqual([4011, 4001])
      // 1000 and the private range go out as they are
      yield* WebSockets.webSocket(url, (session) => session.close(new CloseReason({ code: 4321, message: "" }))).pipe(
        Effect.provide(plugin(Standard))
      )
      yield* Effect.sleep("100 millis")
      expect(codes).toEqual([4011, 4001, 4321])
    }))

  it.scopedLive("maxFrameSize counts text in UTF-8 bytes: 5 × é (10 bytes) passes, 6 × é fails FrameTooBig", () =>
    Effect.gen(function*() {
      const url = yield* server((socket) => {
        socket.send("ééééé")
        socket.send("éééééé")
      })
      const result = yield* WebSockets.webSocketSession(url).pipe(
        Effect.flatMap((session) => Effect.all([session.receive, Effect.flip(session.receive), session.closeReason])),
        Effect.provide(plugin(WsLive, { maxFrameSize: 10 }))
      )
      expect(result[0]).toEqual(Frame.text("ééééé"))
      expect(result[1]).toBeInstanceOf(WebSocketException)
      expect(result[1].reason).toBe("FrameTooBig")
      expect(result[2]).toEqual(Option.some(new CloseReason({ code: 1009, message: "" })))
    }))

  it.scopedLive("a refused upgrade: Handshake with the status where the runtime names it; unreachable: Connect", () =>
    Effect.gen(function*() {
      const peer = yield* nodePeer({ refuse: 401 })
      const refused = yield* Effect.flip(
        WebSockets.webSocket(peer.url, () => Effect.void).pipe(Effect.provide(plugin(WsLive)))
      )
      expect(refused.reason).toBe("Handshake")
      expect(refused.status).toBe(401)
      expect(refused.message).toBe("Handshake exception, expected status code 101 but was 401")
      const unreachable = yield* Effect.flip(
        WebSockets.webSocket("ws://127.0.0.1:1/", () => Effect.void).pipe(Effect.provide(plugin(WsLive)))
      )
      expect(unreachable.reason).toBe("Connect")
    }))

  it.scopedLive("no answer to the upgrade within connectTimeout: Timeout, and the attempt is abandoned", () =>
    Effect.gen(function*() {
      const sockets: Array<import("node:net").Socket> = []
      let ended = 0
      const silent = yield* Effect.acquireRelease(
        Effect.async<import("node:net").Server>((resume) => {
          const server = createServer((socket) => {
            sockets.push(socket)
            socket.on("close", () => ended++)
            socket.resume()
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) =>
          Effect.async<void>((resume) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => resume(Effect.void))
          })
      )
      const port = (silent.address() as { port: number }).port
      const error = yield* Effect.flip(
        WebSockets.webSocket(`ws://127.0.0.1:${port}/`, () => Effect.void).pipe(
          Effect.provide(plugin(WsLive, { connectTimeout: "300 millis" }))
        )
      )
      expect(error.reason).toBe("Timeout")
      yield* Effect.sleep("100 millis")
      // the abandoned attempt closed its socket: the server saw it end
      expect(sockets.length).toBe(1)
      expect(ended).toBe(1)
    }))

  it.scopedLive(
    "send waits while the runtime's bufferedAmount is over the high-water mark, goes on once drained",
    () =>
      Effect.gen(function*() {
        const sockets: Array<WebSocket> = []
        const url = yield* server((socket) => {
          // the peer stops reading: the client's kernel buffers fill, then its bufferedAmount grows
          ;(socket as unknown as { _socket: import("node:net").Socket })._socket.pause()
          sockets.push(socket)
        })
        const session = yield* WebSockets.webSocketSession(url).pipe(Effect.provide(plugin(WsLive)))
        const chunk = new Uint8Array(1024 * 1024)
        let blocked = false
        for (let i = 0; i < 64 && !blocked; i++) {
          const sent = yield* session.send(chunk).pipe(Effect.timeout("300 millis"), Effect.option)
          blocked = Option.isNone(sent)
        }
        expect(blocked).toBe(true)
        const waiting = yield* Effect.fork(session.send("after the jam"))
        yield* Effect.sleep("100 millis")
        expect(waiting.unsafePoll()).toBeNull()
        ;(sockets[0] as unknown as { _socket: import("node:net").Socket })._socket.resume()
        yield* Fiber.join(waiting).pipe(Effect.timeout("10 seconds"))
        yield* session.flush.pipe(Effect.timeout("10 seconds"))
      }),
    30_000
  )

  it.scopedLive("fragments are sent as one whole message (the standard API has no fragments)", () =>
    Effect.gen(function*() {
      const received: Array<string> = []
      const url = yield* server((socket) => socket.on("message", (data) => received.push(data.toString())))
      const session = yield* WebSockets.webSocketSession(url).pipe(Effect.provide(plugin(WsLive)))
      yield* session.send(Frame.text("frag", false))
      yield* session.send(Frame.text("ment"))
      yield* session.send("next")
      yield* session.flush
      yield* Effect.sleep("100 millis")
      expect(received).toEqual(["fragment", "next"])
      yield* Stream.runDrain(session.incoming).pipe(Effect.fork)
    }))

  it("a browser bundle of BrowserEngine and the plugin holds no Node module: neither ws nor NodeEngine", async () => {
    const result = await build({
      stdin: {
        contents: `
          import * as BrowserEngine from "./src/BrowserEngine.ts"
          import * as WebSockets from "./src/Layer.ts"
          export const live = WebSockets.layer().pipe((l) => l, () => BrowserEngine.layer)`,
        resolveDir: fileURLToPath(new URL("..", import.meta.url)),
        loader: "ts"
      },
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      metafile: true,
      logLevel: "silent"
    })
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.some((input) => input.includes("src/BrowserEngine.ts"))).toBe(true)
    expect(inputs.filter((input) => /node_modules\/ws\/|NodeEngine|node:/.test(input))).toEqual([])
  })
})
