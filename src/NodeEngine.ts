/**
 * The Node engine: connections over the `ws` package, which does the framing, masking, UTF-8 validation,
 * size limit and permessage-deflate. This is the only module that imports `ws`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { IncomingMessage } from "node:http"
import type { Socket } from "node:net"
import WebSocket from "ws"
import * as Engine from "./Engine.js"
import { WebSocketException } from "./Errors.js"
import { redactUrl } from "./internal/redact.js"

/** Made on first use: importing this module touches no Node global, so a browser bundle of the package root loads. */
let emptyBuffer: Buffer | undefined
const emptyPayload = (): Buffer => emptyBuffer ??= Buffer.alloc(0)

// the four ways to send a data frame, allocated once rather than per message (ws copies them)
const textFinal = { binary: false, fin: true } as const
const textFragment = { binary: false, fin: false } as const
const binaryFinal = { binary: true, fin: true } as const
const binaryFragment = { binary: true, fin: false } as const

/** `ws` error codes for a message over `maxPayload`; every other receiver error is a protocol violation. */
const tooBigCodes = new Set(["WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH"])

const violationOf = (error: NodeJS.ErrnoException): { violation: Engine.Violation; code: number } | undefined => {
  const code = error.code
  if (code === undefined) return undefined
  if (tooBigCodes.has(code)) return { violation: "FrameTooBig", code: 1009 }
  if (code === "WS_ERR_INVALID_UTF8") return { violation: "Protocol", code: 1007 }
  // too many fragments or buffered chunks in one message: ws answers with 1008 (policy), so must closeReason
  if (code === "WS_ERR_TOO_MANY_BUFFERED_PARTS") return { violation: "Protocol", code: 1008 }
  if (code.startsWith("WS_ERR_")) return { violation: "Protocol", code: 1002 }
  // zlib failures while inflating a compressed message: ws answers them with 1007
  if (code.startsWith("Z_")) return { violation: "Protocol", code: 1007 }
  return undefined
}

const flatHeaders = (message: IncomingMessage): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const failureOf = (error: NodeJS.ErrnoException, url: URL): WebSocketException => {
  const where = redactUrl(url)
  // Node's HTTP parser rejects an answer that is not HTTP (HPE_* codes): a handshake failure, not a connect one
  if (typeof error.code === "string" && error.code.startsWith("HPE_")) {
    return new WebSocketException({
      reason: "Handshake",
      message: `Handshake exception with ${where}: malformed upgrade answer (${error.code})`,
      cause: error
    })
  }
  // Errors created by ws for a bad upgrade answer carry no `code`; socket, DNS and TLS errors do.
  if (typeof error.code === "string") {
    return new WebSocketException({
      reason: "Connect",
      message: `Could not connect to ${where}: ${error.code}`,
      cause: error
    })
  }
  return new WebSocketException({
    reason: "Handshake",
    message: `Handshake exception with ${where}: ${error.message}`,
    status: 101,
    cause: error
  })
}

/**
 * One connection attempt, until the handshake ends. The ws event handlers are shared module-level functions that
 * find it (and, once open, the session's listener alone) on the ws instance (`this` in an EventEmitter handler): no
 * closures per connection, which matters for many idle connections.
 */
class Attempt {
  settled = false
  upgrade: IncomingMessage | undefined = undefined
  constructor(
    readonly url: URL,
    readonly listener: Engine.Listener,
    // cleared once used: the ws listeners outlive the handshake and must not keep the connecting fiber (and its
    // whole context) alive for the life of the connection
    private resume: ((effect: Effect.Effect<Engine.Connection, WebSocketException>) => void) | undefined
  ) {}
  settle(effect: Effect.Effect<Engine.Connection, WebSocketException>): void {
    if (this.settled) return
    this.settled = true
    const done = this.resume!
    this.resume = undefined
    done(effect)
  }
}

/** The ws instance's link to its attempt while the handshake runs, then to the session's listener alone. */
const linkKey = Symbol("effect-websockets/NodeEngine/link")
type Tracked = WebSocket & { [linkKey]: Attempt | Engine.Listener }
const attemptOf = (ws: WebSocket): Attempt => (ws as Tracked)[linkKey] as Attempt
const listenerOf = (ws: WebSocket): Engine.Listener => (ws as Tracked)[linkKey] as Engine.Listener

function onUpgrade(this: WebSocket, response: IncomingMessage): void {
  attemptOf(this).upgrade = response
}

function onUnexpectedResponse(this: WebSocket, req: { destroy(): void }, response: IncomingMessage): void {
  const status = response.statusCode ?? 0
  response.resume()
  req.destroy()
  attemptOf(this).settle(Effect.fail(
    new WebSocketException({
      reason: "Handshake",
      message: `Handshake exception, expected status code 101 but was ${status}`,
      status
    })
  ))
}

function onHandshakeError(this: WebSocket, error: NodeJS.ErrnoException): void {
  const attempt = attemptOf(this)
  attempt.settle(Effect.fail(failureOf(error, attempt.url)))
}

function onHandshakeClose(this: WebSocket): void {
  const attempt = attemptOf(this)
  attempt.settle(Effect.fail(
    new WebSocketException({
      reason: "Connect",
      message: `Connection to ${redactUrl(attempt.url)} closed during the handshake`
    })
  ))
}

function onError(this: WebSocket, error: NodeJS.ErrnoException): void {
  const violation = violationOf(error)
  if (violation !== undefined) listenerOf(this).onViolation(violation.violation, violation.code, error.message)
  // transport errors (ECONNRESET, …) are followed by "close" with 1006, which is what the session needs
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  listenerOf(this).onMessage(isBinary ? data : data.toString())
}

function onPing(this: WebSocket, payload: Buffer): void {
  listenerOf(this).onPing(payload)
}

function onPong(this: WebSocket, payload: Buffer): void {
  listenerOf(this).onPong(payload)
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  listenerOf(this).onClose(code, reason.toString())
}

function onOpen(this: WebSocket): void {
  const attempt = attemptOf(this)
  const connection = makeConnection(this, attempt.upgrade)
  attempt.upgrade = undefined // the upgrade response (and its socket state) is not needed once read
  // the handshake's handlers are done with; starting the listener table afresh (rather than removing them one by
  // one, which leaves its capacity as it was) keeps it small for the life of the connection
  this.removeAllListeners()
  // from here on the connection needs only the listener: the attempt (and its url) can go
  ;(this as Tracked)[linkKey] = attempt.listener
  this.on("error", onError)
  this.on("message", onMessage)
  this.on("ping", onPing)
  this.on("pong", onPong)
  this.on("close", onClose)
  attempt.listener.onOpen(connection)
  attempt.settle(Effect.succeed(connection))
}

const openConnection = (request: Engine.ConnectRequest, listener: Engine.Listener) =>
  Effect.async<Engine.Connection, WebSocketException>((resume) => {
    let ws: WebSocket
    try {
      ws = new WebSocket(request.url, [...request.protocols], {
        headers: request.headers,
        maxPayload: request.maxFrameSize,
        perMessageDeflate: request.deflate === undefined ? false : {
          clientNoContextTakeover: request.deflate.clientNoContextTakeover ?? false,
          serverNoContextTakeover: request.deflate.serverNoContextTakeover ?? false,
          ...(request.deflate.compressionLevel === undefined
            ? {}
            : { zlibDeflateOptions: { level: request.deflate.compressionLevel } }),
          ...(request.deflate.compressIfBiggerThan === undefined
            ? {}
            : { threshold: request.deflate.compressIfBiggerThan })
        },
        // pongs are the session's job so that the rule lives in one place for every engine
        autoPong: false,
        followRedirects: false,
        // ws >= 8.19 option, missing from @types/ws: give up on the closing handshake after 5 s
        ...{ closeTimeout: 5_000 }
      } as WebSocket.ClientOptions)
    } catch (error) {
      resume(Effect.fail(
        new WebSocketException({
          reason: "Connect",
          message: `Invalid WebSocket URL ${redactUrl(request.url)}: ${(error as Error).message}`,
          cause: error
        })
      ))
      return
    }
    const attempt = new Attempt(request.url, listener, resume)
    ;(ws as Tracked)[linkKey] = attempt
    ws.binaryType = "nodebuffer"
    // the handshake's handlers; `onOpen` replaces them with those of an open connection
    ws.on("upgrade", onUpgrade)
    ws.on("unexpected-response", onUnexpectedResponse)
    ws.on("error", onHandshakeError)
    ws.on("close", onHandshakeClose)
    ws.on("open", onOpen)
    return Effect.sync(() => {
      if (!attempt.settled) {
        attempt.settled = true
        ws.terminate()
      }
    })
  })

const agreedExtensions = (upgrade: IncomingMessage | undefined): string | undefined => {
  const header = upgrade?.headers["sec-websocket-extensions"]
  return Array.isArray(header) ? header.join(", ") : header
}

/** Calls `onDrained` once ws has handed everything queued to the socket (or can no longer write). */
const pollDrained = (ws: WebSocket, onDrained: () => void): void => {
  // ws exposes no drain event of its own; poll its buffered amount while the connection can still write.
  if (ws.bufferedAmount === 0 || ws.readyState === WebSocket.CLOSED) return onDrained()
  setTimeout(pollDrained, 1, ws, onDrained)
}

/** Ends a tick's burst of sends: the frames batched since the second one leave in one write. */
const endBurst = (connection: NodeConnection): void => {
  if (connection.burst === BURST_CORKED) connection.socket!.uncork()
  connection.burst = NO_BURST
}
const NO_BURST = 0
const BURST_STARTED = 1
const BURST_CORKED = 2
/**
 * A corked burst is flushed once this much is waiting: a fiber that keeps sending keeps the microtask queue busy,
 * and the next tick (where the burst ends) only comes when it stops, so without this the peer would get nothing
 * until `send` hits its high-water mark.
 */
const BURST_FLUSH_BYTES = 64 * 1024

/**
 * An open connection. A class rather than an object of closures: its methods live once on the prototype, which
 * matters for many idle connections.
 */
class NodeConnection implements Engine.Connection {
  /**
   * Frames sent in a burst leave together: the first send of a tick is written at once (no added latency for a
   * lone message), and if more follow in the same tick the socket is corked until the next tick, so that they
   * share one write (ws corks each frame itself; corking nests). Without this every small message costs a syscall
   * and a TCP segment of its own, on both ends. `_socket` is ws's own (undocumented, stable since ws 1) field.
   */
  readonly socket: Socket | undefined
  burst = NO_BURST
  constructor(private readonly ws: WebSocket, readonly handshake: Engine.Handshake) {
    this.socket = (ws as unknown as { readonly _socket?: Socket })._socket
  }
  send(data: string | Uint8Array, fin: boolean, onWritten?: (error?: Error) => void): void {
    if (this.burst === NO_BURST) {
      this.burst = BURST_STARTED
      process.nextTick(endBurst, this)
    } else if (this.burst === BURST_STARTED && this.socket !== undefined) {
      this.burst = BURST_CORKED
      this.socket.cork()
    }
    // ws reports a successful write with `null`; the Engine contract says `undefined`
    this.ws.send(
      data,
      typeof data === "string" ? (fin ? textFinal : textFragment) : fin ? binaryFinal : binaryFragment,
      onWritten === undefined ? undefined : (error) => onWritten(error ?? undefined)
    )
    if (this.burst === BURST_CORKED && this.socket!.writableLength >= BURST_FLUSH_BYTES) {
      this.socket!.uncork()
      this.socket!.cork()
    }
  }
  ping(payload: Uint8Array): void {
    this.ws.ping(payload.length === 0 ? emptyPayload() : toBuffer(payload))
  }
  pong(payload: Uint8Array): void {
    this.ws.pong(payload.length === 0 ? emptyPayload() : toBuffer(payload))
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason)
  }
  terminate(): void {
    this.ws.terminate()
  }
  pause(): void {
    this.ws.pause()
  }
  resume(): void {
    this.ws.resume()
  }
  bufferedAmount(): number {
    return this.ws.bufferedAmount
  }
  flush(onDrained: () => void): void {
    pollDrained(this.ws, onDrained)
  }
}

const makeConnection = (ws: WebSocket, upgrade: IncomingMessage | undefined): Engine.Connection =>
  new NodeConnection(ws, {
    status: upgrade?.statusCode ?? 101,
    headers: upgrade === undefined ? {} : flatHeaders(upgrade),
    protocol: ws.protocol,
    // ws.extensions holds only the names; the accepted header carries the agreed parameters too
    extensions: ws.extensions === "" ? "" : agreedExtensions(upgrade) ?? ws.extensions
  })

/**
 * The engine over `ws`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Engine.Service = {
  capabilities: Engine.allCapabilities,
  connect: openConnection
}

/**
 * The Node engine as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Engine.Engine> = Layer.succeed(Engine.Engine, make)
