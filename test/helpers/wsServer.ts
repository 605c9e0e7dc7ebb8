/**
 * A `ws` WebSocketServer fixture on 127.0.0.1, port 0, that records what it sees (handshake headers, messages,
 * pings, pongs, the Close it received) and runs a scripted behaviour per connection (echo by default).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { IncomingMessage } from "node:http"
import * as net from "node:net"
import { type ServerOptions, type WebSocket, WebSocketServer } from "ws"

/** One message the server received. */
export interface Received {
  readonly data: Buffer
  readonly isBinary: boolean
}

/** What the server saw of one client connection. */
export interface ServerConnection {
  readonly socket: WebSocket
  readonly request: IncomingMessage
  readonly messages: Array<Received>
  readonly pings: Array<Buffer>
  readonly pongs: Array<Buffer>
  /** The Close the client sent (code 1005 for an empty one, 1006 when none arrived), once the socket is gone. */
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>
  /** Resolves with the `n`-th message (1-based) once it has arrived. */
  readonly nthMessage: (n: number) => Promise<Received>
}

/** A scripted behaviour, run when a client connects. */
export type Behaviour = (connection: ServerConnection) => void

/** Echoes every message back with its type. */
export const echo: Behaviour = ({ socket }) => {
  socket.on("message", (data: Buffer, isBinary) => socket.send(data, { binary: isBinary }))
}

/** Does nothing: the test drives the connection itself. */
export const idle: Behaviour = () => {}

export interface TestServer {
  readonly port: number
  readonly url: (path?: string) => string
  readonly connections: Array<ServerConnection>
  /** Resolves with the `n`-th connection (1-based) once it has been accepted. */
  readonly nthConnection: (n: number) => Promise<ServerConnection>
  readonly close: () => Promise<void>
}

export interface TestServerOptions {
  /** Behaviour per request path; the key "*" is the fallback. Default: echo everywhere. */
  readonly behaviours?: Readonly<Record<string, Behaviour>> | undefined
  /** Extra `ws` server options (autoPong, handleProtocols, verifyClient, maxPayload, …). */
  readonly options?: Omit<ServerOptions, "port" | "host" | "server" | "noServer"> | undefined
}

const waiter = <A>(list: Array<A>) => {
  const waiting: Array<{ n: number; resolve: (a: A) => void }> = []
  return {
    push: (a: A) => {
      list.push(a)
      for (let i = waiting.length - 1; i >= 0; i--) {
        const w = waiting[i]!
        if (list.length >= w.n) {
          waiting.splice(i, 1)
          w.resolve(list[w.n - 1]!)
        }
      }
    },
    nth: (n: number): Promise<A> =>
      list.length >= n ? Promise.resolve(list[n - 1]!) : new Promise((resolve) => waiting.push({ n, resolve }))
  }
}

/** Starts a server; close it with `close()`. */
export const startServer = async (opts: TestServerOptions = {}): Promise<TestServer> => {
  const behaviours = opts.behaviours ?? { "*": echo }
  const server = new WebSocketServer({ ...opts.options, host: "127.0.0.1", port: 0 })
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve)
    server.once("error", reject)
  })
  const connections: Array<ServerConnection> = []
  const connectionWaiter = waiter(connections)
  server.on("connection", (socket, request) => {
    const messages: Array<Received> = []
    const messageWaiter = waiter(messages)
    const pings: Array<Buffer> = []
    const pongs: Array<Buffer> = []
    socket.on("message", (data: Buffer, isBinary) => messageWaiter.push({ data, isBinary }))
    socket.on("ping", (payload) => pings.push(payload))
    socket.on("pong", (payload) => pongs.push(payload))
    socket.on("error", () => {})
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() }))
    )
    const connection: ServerConnection = {
      socket,
      request,
      messages,
      pings,
      pongs,
      closed,
      nthMessage: messageWaiter.nth
    }
    const path = new URL(request.url ?? "/", "http://localhost").pathname
    const behaviour = behaviours[path] ?? behaviours["*"] ?? echo
    behaviour(connection)
    connectionWaiter.push(connection)
  })
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    url: (path = "/") => `ws://127.0.0.1:${port}${path}`,
    connections,
    nthConnection: connectionWaiter.nth,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate()
        server.close(() => resolve())
      })
  }
}

/** The server as a scoped resource. */
export const server = (opts: TestServerOptions = {}): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startServer(opts)),
    (s) => Effect.promise(() => s.close())
  )

/** A plain TCP server on 127.0.0.1 whose `onSocket` decides what to do with each accepted socket. */
export const tcpServer = (
  onSocket: (socket: net.Socket) => void
): Effect.Effect<{ readonly port: number; readonly sockets: Array<net.Socket> }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ server: net.Server; port: number; sockets: Array<net.Socket> }>((resolve, reject) => {
        const sockets: Array<net.Socket> = []
        const srv = net.createServer((socket) => {
          sockets.push(socket)
          socket.on("error", () => {})
          onSocket(socket)
        })
        srv.once("error", reject)
        srv.listen(
          0,
          "127.0.0.1",
          () => resolve({ server: srv, port: (srv.address() as net.AddressInfo).port, sockets })
        )
      })
    ),
    ({ server: srv, sockets }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy()
          srv.close(() => resolve())
        })
      )
  ).pipe(Effect.map(({ port, sockets }) => ({ port, sockets })))

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })

/** An unmasked server-to-client frame, for writing raw (possibly invalid) bytes to a client. */
export const rawFrame = (
  opcode: number,
  payload: Uint8Array = new Uint8Array(0),
  { fin = true, rsv = 0 }: { readonly fin?: boolean; readonly rsv?: number } = {}
): Buffer => {
  const length = payload.byteLength
  const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10)
  header[0] = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0xf)
  if (length < 126) {
    header[1] = length
  } else if (length < 65536) {
    header[1] = 126
    header.writeUInt16BE(length, 2)
  } else {
    header[1] = 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  return Buffer.concat([header, payload])
}

/** Writes raw bytes on the TCP socket under a `ws` server connection (bypassing its framing). */
export const writeRaw = (socket: WebSocket, bytes: Uint8Array): void => {
  ;(socket as unknown as { _socket: net.Socket })._socket.write(bytes)
}

/** Resolves after `ms` milliseconds. */
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
