/**
 * A small `ws` server on 127.0.0.1 for the serialization tests: it records every message it receives and, unless
 * told otherwise, echoes it back with the same frame type. Local to these tests on purpose.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type RawData, type WebSocket, WebSocketServer } from "ws"
import { NodeEngine, type Session, WebSockets } from "../../src/index.js"

export interface Received {
  readonly data: Buffer
  readonly isBinary: boolean
}

export interface TestServer {
  readonly url: string
  /** Every message the server received, in order. */
  readonly received: Array<Received>
  /** How many connections the server has accepted so far. */
  readonly connections: () => number
  readonly close: () => Promise<void>
}

/** What the server does with a message; the default echoes it. */
export type OnMessage = (socket: WebSocket, message: Received) => void

const echo: OnMessage = (socket, { data, isBinary }) => socket.send(data, { binary: isBinary })

const toBuffer = (data: RawData): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)

export const startServer = (onMessage: OnMessage = echo): Promise<TestServer> =>
  new Promise((resolve, reject) => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
    const received: Array<Received> = []
    let connections = 0
    wss.on("connection", (socket) => {
      connections++
      socket.on("message", (data, isBinary) => {
        const message = { data: toBuffer(data), isBinary }
        received.push(message)
        onMessage(socket, message)
      })
    })
    wss.once("error", reject)
    wss.once("listening", () => {
      const { port } = wss.address() as { port: number }
      resolve({
        url: `ws://127.0.0.1:${port}/echo`,
        received,
        connections: () => connections,
        close: () =>
          new Promise<void>((done) => {
            for (const client of wss.clients) client.terminate()
            wss.close(() => done())
          })
      })
    })
  })

/** A server for the current scope. */
export const server = (onMessage?: OnMessage): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => startServer(onMessage)), (s) => Effect.promise(() => s.close()))

/** A server and one session connected to it, for the current scope, on a layer with `options`. */
export const connected = (
  options: WebSockets.Options,
  onMessage?: OnMessage
): Effect.Effect<
  { readonly server: TestServer; readonly session: Session.DefaultClientWebSocketSession },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const s = yield* server(onMessage)
    const session = yield* Effect.orDie(WebSockets.webSocketSession(s.url))
    return { server: s, session }
  }).pipe(Effect.provide(WebSockets.layer(options)), Effect.provide(NodeEngine.layer))

/** A server and one session shared by all the tests of a `layer(...)` block (one session per property). */
export class Echo extends Context.Tag("test/Echo")<Echo, {
  readonly server: TestServer
  readonly session: Session.DefaultClientWebSocketSession
}>() {}

export const echoLayer = (options: WebSockets.Options = {}): Layer.Layer<Echo> => Layer.scoped(Echo, connected(options))
