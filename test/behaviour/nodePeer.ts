/**
 * A real `ws` server on 127.0.0.1 scripted through the same `TestEngine.ServerConnection` interface as the
 * in-memory server, so that the behaviour suite drives both engines with one script.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { IncomingMessage } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { type WebSocket, WebSocketServer } from "ws"
import { CloseReason, Frame, NodeEngine, TestEngine } from "../../src/index.js"
import { scriptRunner } from "./scripts.js"
import type { Peer, PeerOptions } from "./suite.js"

/** The parts of a `ws` connection the peer reaches into to stop it from answering a Close on its own. */
interface WsInternals {
  readonly _receiver: NodeJS.EventEmitter
  readonly _socket: Socket
  _closeFrameReceived: boolean
  _closeCode: number
  _closeMessage: Buffer
}

const closeFrame = (code: number, reason: Buffer): Frame.Close =>
  code === 1005 ? Frame.close() : Frame.close(new CloseReason({ code, message: reason.toString() }))

/** A Close frame with any payload, written under ws (which refuses codes that may not be sent). */
const rawClose = (payload: Uint8Array): Buffer => Buffer.concat([Buffer.from([0x88, payload.byteLength]), payload])

/** An unmasked final frame with any payload (server to client), written under ws. */
const rawFrame = (opcode: number, payload: Uint8Array): Buffer => {
  const length = payload.byteLength
  const header = length < 126
    ? Buffer.from([0x80 | opcode, length])
    : Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
  return Buffer.concat([header, payload])
}

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed: () => boolean }).isWellFormed()

/**
 * A string's code points as UTF-8, lone surrogates included (encoded as if they were characters, which UTF-8
 * forbids): how the in-memory server's "Text frame holding a lone surrogate" goes on a real wire as invalid UTF-8.
 */
const looseUtf8 = (s: string): Buffer => {
  const bytes: Array<number> = []
  for (const char of s) {
    const cp = char.codePointAt(0)!
    if (cp < 0x80) bytes.push(cp)
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f))
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f))
    else {
      bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f))
    }
  }
  return Buffer.from(bytes)
}

/** The script's view of one `ws` server connection. */
export const serverConnection = (
  socket: WebSocket,
  url: URL,
  headers: Record<string, string>,
  protocols: ReadonlyArray<string>,
  options: PeerOptions
): TestEngine.ServerConnection => {
  const frames = Effect.runSync(Mailbox.make<Frame.Frame>())
  const log: Array<Frame.Frame> = []
  const offer = (frame: Frame.Frame) => {
    log.push(frame)
    frames.unsafeOffer(frame)
  }
  const closed = Effect.runSync(Deferred.make<void>())
  /** Who sent the first Close, and how the connection ended: for the error of a `receive` past the end. */
  let firstClose: "client" | "server" | undefined
  let endCode = 1006
  const internals = socket as unknown as WsInternals
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    offer(isBinary ? Frame.binary(new Uint8Array(data)) : Frame.text(data.toString()))
  })
  socket.on("ping", (payload: Buffer) => offer(Frame.ping(new Uint8Array(payload))))
  socket.on("pong", (payload: Buffer) => offer(Frame.pong(new Uint8Array(payload))))
  socket.on("error", () => {})
  socket.on("close", (code: number) => {
    endCode = code
    frames.unsafeDone(Exit.void)
    Deferred.unsafeDone(closed, Exit.void)
  })
  const receiver = internals._receiver
  receiver.prependListener("conclude", () => {
    firstClose ??= "client"
  })
  if (options.ignoreClose) {
    // keep what ws needs to end the connection once we answer, but send nothing on our own
    receiver.removeAllListeners("conclude")
    receiver.on("conclude", (code: number, reason: Buffer) => {
      firstClose ??= "client"
      internals._closeFrameReceived = true
      internals._closeCode = code
      internals._closeMessage = Buffer.from(reason)
      offer(closeFrame(code, reason))
    })
  } else {
    receiver.prependListener("conclude", (code: number, reason: Buffer) => {
      offer(closeFrame(code, reason))
    })
  }
  const send = (data: string | Uint8Array | Frame.Frame) =>
    Effect.sync(() => {
      if (socket.readyState !== socket.OPEN) return
      const frame = typeof data === "string" ? Frame.text(data) : data instanceof Uint8Array ? Frame.binary(data) : data
      switch (frame._tag) {
        case "Text":
          if (frame.fin && !isWellFormed(frame.data)) {
            return internals._socket.write(rawFrame(0x1, looseUtf8(frame.data)))
          }
          return socket.send(frame.data, { binary: false, fin: frame.fin })
        case "Binary":
          return socket.send(Buffer.from(frame.data), { binary: true, fin: frame.fin })
        case "Ping":
          return socket.ping(Buffer.from(frame.data))
        case "Pong":
          return socket.pong(Buffer.from(frame.data))
        case "Close": {
          firstClose ??= "server"
          const reason = Frame.readReason(frame)
          // ws would re-encode a malformed reason as valid UTF-8: write the payload as it is
          if (!Frame.isValidClosePayload(frame.data)) return internals._socket.write(rawClose(frame.data))
          if (Option.isNone(reason)) return socket.close()
          try {
            return socket.close(reason.value.code, reason.value.message)
          } catch {
            return internals._socket.write(rawClose(frame.data))
          }
        }
      }
    })
  const closedError = () => {
    const initiator = endCode === 1006 || firstClose === undefined ? "dropped" : firstClose
    return new TestEngine.ConnectionClosed({
      message: `ws peer connection ${url.href} has ended (${initiator}, ${endCode}); no more frames to receive`,
      url: url.href,
      initiator,
      code: endCode
    })
  }
  return {
    request: { url, headers, protocols, deflate: undefined, maxFrameSize: 0 },
    incoming: Mailbox.toStream(frames),
    receive: Effect.catchTag(frames.take, "NoSuchElementException", () => Effect.fail(closedError())),
    received: Effect.sync(() => log.slice()),
    send,
    close: (reason = new CloseReason({ code: 1000, message: "" })) => send(Frame.close(reason)),
    // a peer that drops after sending: what it wrote reaches the client's socket first (terminate discards
    // what ws has not handed to the kernel yet)
    drop: Effect.promise(async () => {
      for (let waited = 0; socket.bufferedAmount > 0 && waited < 2_000; waited += 5) {
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      socket.terminate()
    }),
    closed: Deferred.await(closed)
  }
}

/** The script's view of a connection `ws` has just accepted for `request`. */
export const serverConnectionOf = (
  socket: WebSocket,
  request: IncomingMessage,
  options: PeerOptions
): TestEngine.ServerConnection => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === "string") headers[name] = value
  }
  const protocols = (request.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim())
  const url = new URL(request.url ?? "/", `ws://${request.headers.host}`)
  return serverConnection(socket, url, headers, protocols.filter((p) => p !== ""), options)
}

/** Starts a `ws` server for one test; it stops with the scope. */
export const nodePeer = (options: PeerOptions): Effect.Effect<Peer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const connections = yield* Queue.unbounded<TestEngine.ServerConnection>()
    // created before the server, so that its finalizer runs once the clients are gone
    const script = options.handler === undefined ? undefined : yield* scriptRunner(options.handler)
    const server = yield* Effect.acquireRelease(
      Effect.async<WebSocketServer>((resume) => {
        const wss = new WebSocketServer({
          host: "127.0.0.1",
          port: 0,
          autoPong: !options.ignorePings,
          ...(options.refuse === undefined ? {} : {
            verifyClient: (_info: unknown, done: (result: boolean, code?: number) => void) =>
              done(false, options.refuse)
          })
        })
        wss.once("listening", () => resume(Effect.succeed(wss)))
      }),
      (wss) =>
        Effect.async<void>((resume) => {
          for (const client of wss.clients) client.terminate()
          wss.close(() => resume(Effect.void))
        })
    )
    server.on("connection", (socket, request) => {
      const connection = serverConnectionOf(socket, request, options)
      Queue.unsafeOffer(connections, connection)
      if (script !== undefined) script(connection)
    })
    const port = (server.address() as AddressInfo).port
    return {
      url: `ws://127.0.0.1:${port}/behaviour`,
      engine: NodeEngine.layer,
      nextConnection: Queue.take(connections)
    }
  })
