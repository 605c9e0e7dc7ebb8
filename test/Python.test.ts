/**
 * Scenarios from Ktor's own client WebSockets tests (issue 2, item 4), run against two real servers on 127.0.0.1:
 * a `ws` WebSocketServer and Debian's python3-websockets 10.4 (test/peers/echo_server.py, run by /usr/bin/python3).
 * Both servers offer the same paths: /echo, /subprotocol, /close-first, /ping-first, /first, /headers, /500.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { afterAll, beforeAll } from "vitest"
import { CloseReason, Frame, WebSockets } from "../src/index.js"
import { guard, live } from "./helpers/layers.js"
import { type PythonServer, startPython, stopPython } from "./helpers/python.js"
import { type Behaviour, delay, echo, startServer, type TestServer } from "./helpers/wsServer.js"

interface Peer {
  readonly url: (path: string) => string
  /** How many messages the /echo?id=`id` connection received, once it has ended. */
  readonly echoed: (id: string) => Promise<number>
}

const offered = (header: string | Array<string> | undefined): Array<string> =>
  (Array.isArray(header) ? header.join(",") : header ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "")

/** The ws twin of test/peers/echo_server.py. */
const wsBehaviours: Record<string, Behaviour> = {
  "/close-first": ({ socket }) => socket.close(4001, "server bye"),
  "/ping-first": ({ socket, pongs }) => {
    socket.ping("ktor-ping")
    socket.once("pong", () => setTimeout(() => socket.send(`pongs=${pongs.length}`), 200))
  },
  "/first": (c) => {
    c.socket.send("first")
    echo(c)
  },
  "/headers": (c) => {
    const raw = c.request.rawHeaders
    const pairs: Array<[string, string]> = []
    for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!])
    c.socket.send(JSON.stringify(pairs))
    echo(c)
  },
  "*": echo
}

const startWsPeer = async (): Promise<{ server: TestServer; peer: Peer }> => {
  const server = await startServer({
    behaviours: wsBehaviours,
    options: {
      handleProtocols: (protocols) => protocols.has("chat") ? "chat" : false,
      verifyClient: (info, cb) => {
        const path = new URL(info.req.url ?? "/", "http://localhost").pathname
        if (path === "/500") return cb(false, 500)
        if (path === "/subprotocol" && !offered(info.req.headers["sec-websocket-protocol"]).includes("chat")) {
          return cb(false, 400)
        }
        cb(true)
      }
    }
  })
  return {
    server,
    peer: {
      url: server.url,
      echoed: async (id) => {
        const conn = server.connections.find((c) => c.request.url?.includes(`id=${id}`))
        if (conn === undefined) throw new Error(`no connection with id ${id}`)
        await conn.closed
        return conn.messages.length
      }
    }
  }
}

const pythonPeer = (py: PythonServer): Peer => ({
  url: py.url,
  echoed: async (id) => {
    for (let attempt = 0; attempt < 500; attempt++) {
      const response = await fetch(`http://127.0.0.1:${py.port}/stats?id=${id}`)
      const { messages } = await response.json() as { messages: number | null }
      if (messages !== null) return messages
      await delay(10)
    }
    throw new Error(`the python peer never reported connection ${id}`)
  }
})

let wsPeer: { server: TestServer; peer: Peer } | undefined
let python: PythonServer | undefined
const peers: Record<string, () => Peer> = {
  ws: () => wsPeer!.peer,
  "python3-websockets": () => pythonPeer(python!)
}

beforeAll(async () => {
  wsPeer = await startWsPeer()
  python = await startPython()
})

afterAll(async () => {
  await wsPeer?.server.close()
  if (python !== undefined) await stopPython(python)
})

const Live = live()
let ids = 0

for (const [name, peerOf] of Object.entries(peers)) {
  describe(`Ktor scenarios against ${name}`, () => {
    it.live("echo of a text and a binary message", () =>
      Effect.gen(function*() {
        const [text, binary] = yield* WebSockets.webSocket(peerOf().url("/echo"), (session) =>
          Effect.gen(function*() {
            yield* session.send("Hello WebSocket!")
            const text = yield* session.receive
            yield* session.send(new Uint8Array([0, 1, 2, 253, 254, 255]))
            const binary = yield* session.receive
            return [text, binary] as const
          })).pipe(Effect.provide(Live))
        expect(text).toEqual(Frame.text("Hello WebSocket!"))
        expect(binary._tag).toBe("Binary")
        expect(Array.from(Frame.readBytes(binary))).toEqual([0, 1, 2, 253, 254, 255])
      }))

    it.live("an empty text frame is echoed as an empty text frame", () =>
      Effect.gen(function*() {
        const frame = yield* WebSockets.webSocket(peerOf().url("/echo"), (session) =>
          Effect.zipRight(session.send(Frame.text("")), session.receive)).pipe(Effect.provide(Live))
        expect(frame).toEqual(Frame.text(""))
      }))

    it.live("two sessions in parallel, each doing 100 ordered echoes", () =>
      Effect.gen(function*() {
        const oneSession = (name: string) =>
          WebSockets.webSocket(peerOf().url("/echo"), (session) =>
            Effect.gen(function*() {
              const got: Array<string> = []
              for (let i = 0; i < 100; i++) {
                yield* session.send(`${name}-${i}`)
                got.push(Frame.readText(yield* session.receive))
              }
              return got
            }))
        const [a, b] = yield* Effect.all([oneSession("a"), oneSession("b")], { concurrency: 2 }).pipe(
          Effect.provide(Live),
          guard(20_000, "200 echoes")
        )
        expect(a).toEqual(Array.from({ length: 100 }, (_, i) => `a-${i}`))
        expect(b).toEqual(Array.from({ length: 100 }, (_, i) => `b-${i}`))
      }))

    it.live("1000 frames sent while nothing is read, then the block exits without deadlock", () =>
      Effect.gen(function*() {
        const id = `many-${++ids}`
        yield* WebSockets.webSocket(peerOf().url(`/echo?id=${id}`), (session) =>
          Effect.forEach(
            Array.from({ length: 1000 }, (_, i) => i),
            (i) => session.send(`frame ${i} ${"p".repeat(100)}`),
            { discard: true }
          )).pipe(Effect.provide(Live), guard(20_000, "sending 1000 frames and closing"))
        expect(yield* Effect.promise(() => peerOf().echoed(id))).toBe(1000)
      }))

    it.live("100 concurrent connections each receive the first frame the server sends at once", () =>
      Effect.gen(function*() {
        const firsts = yield* Effect.forEach(
          Array.from({ length: 100 }, (_, i) => i),
          () => WebSockets.webSocket(peerOf().url("/first"), (session) => session.receive),
          { concurrency: "unbounded" }
        ).pipe(Effect.provide(Live), guard(20_000, "100 connections"))
        expect(firsts.length).toBe(100)
        expect(firsts.every((f) => f._tag === "Text" && f.data === "first")).toBe(true)
      }))

    it.live("a server that requires a subprotocol: refused without offering it (Handshake 400)", () =>
      Effect.gen(function*() {
        const error = yield* WebSockets.webSocket(peerOf().url("/subprotocol"), () => Effect.void).pipe(
          Effect.provide(Live),
          Effect.flip
        )
        expect(error.reason).toBe("Handshake")
        expect(error.status).toBe(400)
        expect(error.message).toBe("Handshake exception, expected status code 101 but was 400")
      }))

    it.live("a server that requires a subprotocol: offered, it is chosen and visible in session.call", () =>
      Effect.gen(function*() {
        const [protocol, echoed] = yield* WebSockets.webSocket(
          { url: peerOf().url("/subprotocol"), protocols: ["other", "chat"] },
          (session) =>
            Effect.zipRight(
              session.send("with protocol"),
              Effect.map(session.receive, (f) => [session.call.protocol, Frame.readText(f)] as const)
            )
        ).pipe(Effect.provide(Live))
        expect(protocol).toBe("chat")
        expect(echoed).toBe("with protocol")
      }))

    it.live("offered protocols the server does not accept → Handshake", () =>
      Effect.gen(function*() {
        const error = yield* WebSockets.webSocket(
          { url: peerOf().url("/echo"), protocols: ["other"] },
          () => Effect.void
        )
          .pipe(Effect.provide(Live), Effect.flip)
        expect(error.reason).toBe("Handshake")
      }))

    it.live("the server sees Upgrade, Connection, Sec-WebSocket-Version: 13, one key and the custom headers", () =>
      Effect.gen(function*() {
        const pairs = yield* WebSockets.webSocket(
          {
            url: peerOf().url("/headers"),
            headers: { "X-Custom-Header": "custom value", "X-Secret": Redacted.make("s3cret") }
          },
          (session) => Effect.map(session.receive, (f) => JSON.parse(Frame.readText(f)) as Array<[string, string]>)
        ).pipe(Effect.provide(Live))
        const all = (name: string) => pairs.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v)
        expect(all("upgrade").map((v) => v.toLowerCase())).toEqual(["websocket"])
        expect(all("connection").length).toBe(1)
        expect(all("connection")[0]!.toLowerCase()).toContain("upgrade")
        expect(all("sec-websocket-version")).toEqual(["13"])
        expect(all("sec-websocket-key").length).toBe(1)
        expect(Buffer.from(all("sec-websocket-key")[0]!, "base64").length).toBe(16)
        expect(all("x-custom-header")).toEqual(["custom value"])
        expect(all("x-secret")).toEqual(["s3cret"])
      }))

    it.live("the server closes first: closeReason is its reason, incoming ends, receive fails Closed", () =>
      Effect.gen(function*() {
        const result = yield* WebSockets.webSocket(peerOf().url("/close-first"), (session) =>
          Effect.gen(function*() {
            const frames = yield* Stream.runCollect(session.incoming)
            const closeReason = yield* session.closeReason
            const receiveError = yield* Effect.flip(session.receive)
            return { frames: frames.length, closeReason, receiveError }
          })).pipe(Effect.provide(Live))
        expect(result.frames).toBe(0)
        expect(result.closeReason).toEqual(Option.some(new CloseReason({ code: 4001, message: "server bye" })))
        expect(result.receiveError.reason).toBe("Closed")
      }))

    it.live("a server ping is answered by exactly one pong and never shows up on incoming", () =>
      Effect.gen(function*() {
        const report = yield* WebSockets.webSocket(
          peerOf().url("/ping-first"),
          (session) => Effect.map(session.receive, Frame.readText)
        ).pipe(Effect.provide(Live), guard(10_000, "the pong report"))
        expect(report).toBe("pongs=1")
      }))

    it.live("a 500 answer to the upgrade: Handshake, status 500, the exact message", () =>
      Effect.gen(function*() {
        const error = yield* WebSockets.webSocket(peerOf().url("/500"), () => Effect.void).pipe(
          Effect.provide(Live),
          Effect.flip
        )
        expect(error.reason).toBe("Handshake")
        expect(error.status).toBe(500)
        expect(error.message).toBe("Handshake exception, expected status code 101 but was 500")
      }))

    it.live("webSocket closes with 1000 after the block; the peer echoes it and closeReason is 1000", () =>
      Effect.gen(function*() {
        const session = yield* WebSockets.webSocket(
          peerOf().url("/echo"),
          (session) => Effect.as(Effect.zipRight(session.send("bye"), session.receive), session)
        ).pipe(Effect.provide(Live))
        expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1000, message: "" })))
      }))
  })
}
