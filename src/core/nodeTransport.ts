/**
 * The transport over the `ws` package, in callback form (`connect(request, listener, done) => abort`): `ws` does the
 * framing, masking, UTF-8 validation, size limit and permessage-deflate; this file maps its events onto the engine
 * seam (transport.ts) and keeps the speed tricks that depend on its internals (corking through `_socket`, the
 * receiver's "conclude" event), each pinned by a test. The only module that imports `ws`; `NodeEngine` wraps it.
 */
import type { IncomingMessage } from "node:http"
import type { Socket } from "node:net"
import type { ConnectionOptions } from "node:tls"
import WebSocket from "ws"
import { CLOSE_HANDSHAKE_TIMEOUT_MS, CloseCodes } from "./limits.js"
import type * as Transport from "./transport.js"

/** Made on first use: importing this module touches no Node global, so a browser bundle of the package root loads. */
let emptyBuffer: Buffer | undefined
const emptyPayload = (): Buffer => emptyBuffer ??= Buffer.alloc(0)

// the four ways to send a data frame, allocated once rather than per message (ws copies them)
const textFinal = { binary: false, fin: true } as const
const textFragment = { binary: false, fin: false } as const
const binaryFinal = { binary: true, fin: true } as const
const binaryFragment = { binary: true, fin: false } as const
// …and the same, uncompressed: for messages under `compressIfBiggerThan` when permessage-deflate is on
const textFinalPlain = { binary: false, fin: true, compress: false } as const
const textFragmentPlain = { binary: false, fin: false, compress: false } as const
const binaryFinalPlain = { binary: true, fin: true, compress: false } as const
const binaryFragmentPlain = { binary: true, fin: false, compress: false } as const

/**
 * Whether a message is under the compression threshold, in UTF-8 bytes as ws counts them. A string's UTF-8 length
 * lies between its length and three times it, so only strings in between are measured.
 */
const belowThreshold = (data: string | Uint8Array, threshold: number): boolean => {
  if (typeof data !== "string") return data.byteLength < threshold
  if (data.length >= threshold) return false
  return data.length * 3 < threshold || Buffer.byteLength(data) < threshold
}

/** The ws send options for a frame: compressed (when deflate was agreed) unless under `threshold`. */
const sendOptions = (data: string | Uint8Array, fin: boolean, threshold: number) => {
  if (threshold > 0 && belowThreshold(data, threshold)) {
    return typeof data === "string"
      ? (fin ? textFinalPlain : textFragmentPlain)
      : fin
      ? binaryFinalPlain
      : binaryFragmentPlain
  }
  return typeof data === "string" ? (fin ? textFinal : textFragment) : fin ? binaryFinal : binaryFragment
}

/** ws's default `threshold`: messages under 1024 bytes go uncompressed unless `compressIfBiggerThan` says otherwise. */
const DEFAULT_COMPRESS_THRESHOLD = 1024

/** ws reads `maxPayload` as a 32-bit integer (`| 0`): anything larger would wrap around and disable the limit. */
const MAX_WS_PAYLOAD = 0x7fffffff

/**
 * ws checks `maxPayload` against the compressed size of a message as well as its inflated size, so a message that
 * does not compress (random bytes grow by a few bytes under deflate) would be refused at exactly `maxFrameSize`.
 * With permessage-deflate offered, ws gets this much more room and the exact limit is applied to the inflated
 * message here (`onLimitedMessage`): memory still stays within about `maxFrameSize` per message. An eighth covers
 * the worst expansion of a sane deflate encoder (fixed Huffman codes: 9 bits per literal byte) plus block headers.
 */
const compressedAllowance = (maxFrameSize: number): number =>
  Math.min(MAX_WS_PAYLOAD, maxFrameSize + Math.ceil(maxFrameSize / 8) + 1024)

/** `ws` error codes for a message over `maxPayload`; every other receiver error is a protocol violation. */
const tooBigCodes = new Set(["WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH"])

const violationOf = (error: NodeJS.ErrnoException): { violation: Transport.Violation; code: number } | undefined => {
  const code = error.code
  if (code === undefined) return undefined
  if (tooBigCodes.has(code)) return { violation: "FrameTooBig", code: CloseCodes.TOO_BIG }
  if (code === "WS_ERR_INVALID_UTF8") return { violation: "Protocol", code: CloseCodes.NOT_CONSISTENT }
  // too many fragments or buffered chunks in one message: ws answers with 1008 (policy), so must closeReason
  if (code === "WS_ERR_TOO_MANY_BUFFERED_PARTS") return { violation: "Protocol", code: CloseCodes.VIOLATED_POLICY }
  if (code.startsWith("WS_ERR_")) return { violation: "Protocol", code: CloseCodes.PROTOCOL_ERROR }
  // zlib failures while inflating a compressed message: ws answers them with 1007
  if (code.startsWith("Z_")) return { violation: "Protocol", code: CloseCodes.NOT_CONSISTENT }
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

/** What a ws `error` event during the handshake means. */
const failureOf = (error: NodeJS.ErrnoException, attempt: Attempt): Transport.ConnectFailure => {
  // Node's HTTP parser rejects an answer that is not HTTP (HPE_* codes): a handshake failure, not a connect one
  if (typeof error.code === "string" && error.code.startsWith("HPE_")) {
    return { _tag: "MalformedAnswer", code: error.code, cause: error }
  }
  // Errors created by ws for a bad upgrade answer carry no `code`; socket, DNS and TLS errors do.
  if (typeof error.code === "string") {
    return { _tag: "TransportFailed", code: error.code, message: error.message, cause: error }
  }
  const chosen = attempt.upgrade?.headers["sec-websocket-protocol"]
  return { _tag: "AnswerRejected", problem: error.message, offered: attempt.protocols, chosen }
}

/**
 * One connection attempt, until the handshake ends. The ws event handlers are shared module-level functions that
 * find it (and, once open, the session's listener alone) on the ws instance (`this` in an EventEmitter handler): no
 * closures per connection, which matters for many idle connections.
 */
class Attempt {
  settled = false
  upgrade: IncomingMessage | undefined = undefined
  /** The subprotocols offered, for the error when the server refuses them. */
  protocols: ReadonlyArray<string> = []
  /** With permessage-deflate offered: the exact limit of an inflated message, and the compression threshold. */
  inflatedLimit: number | undefined = undefined
  compressThreshold = 0
  constructor(
    readonly listener: Transport.Listener,
    // cleared once used (or aborted): the ws listeners outlive the handshake and must not keep the caller's `done`
    // (in NodeEngine, the connecting fiber and its whole context) alive for the life of the connection
    private done: Transport.Done | undefined
  ) {}
  settle(outcome: Transport.Opened | Transport.ConnectFailure): void {
    if (this.settled) return
    this.settled = true
    const done = this.done!
    this.done = undefined
    done(outcome)
  }
  /** Ends an attempt still running: `done` is never called, and the socket goes. */
  abort(ws: WebSocket): void {
    if (this.settled) return
    this.settled = true
    this.done = undefined
    ws.terminate()
  }
}

/** The ws instance's link to its attempt while the handshake runs, then to the session's listener alone. */
const linkKey = Symbol("effect-websockets/NodeEngine/link")
type Tracked = WebSocket & { [linkKey]: Attempt | Transport.Listener }
const attemptOf = (ws: WebSocket): Attempt => (ws as Tracked)[linkKey] as Attempt
const listenerOf = (ws: WebSocket): Transport.Listener => (ws as Tracked)[linkKey] as Transport.Listener

function onUpgrade(this: WebSocket, response: IncomingMessage): void {
  attemptOf(this).upgrade = response
}

function onUnexpectedResponse(this: WebSocket, req: { destroy(): void }, response: IncomingMessage): void {
  const status = response.statusCode ?? 0
  response.resume()
  req.destroy()
  const attempt = attemptOf(this)
  // a 101 arrives here when it lacks the upgrade headers: saying "expected 101 but was 101" would help nobody
  attempt.settle(
    status === 101 ? { _tag: "NotUpgraded", headers: response.headers } : { _tag: "UnexpectedStatus", status }
  )
}

function onHandshakeError(this: WebSocket, error: NodeJS.ErrnoException): void {
  const attempt = attemptOf(this)
  attempt.settle(failureOf(error, attempt))
}

function onHandshakeClose(this: WebSocket): void {
  const attempt = attemptOf(this)
  attempt.settle(closedDuringHandshake)
}

function onError(this: WebSocket, error: NodeJS.ErrnoException): void {
  const violation = violationOf(error)
  if (violation !== undefined) listenerOf(this).onViolation(violation.violation, violation.code, error.message)
  // transport errors (ECONNRESET, …) are followed by "close" with 1006, which is what the session needs
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  listenerOf(this).onMessage(isBinary ? data : data.toString())
}

/** The exact `maxFrameSize` of a connection that offered permessage-deflate (see `compressedAllowance`). */
const limitKey = Symbol("effect-websockets/NodeEngine/inflatedLimit")
type Limited = WebSocket & { [limitKey]: number }

function onLimitedMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const limit = (this as Limited)[limitKey]
  if (data.length > limit) {
    listenerOf(this).onViolation(
      "FrameTooBig",
      CloseCodes.TOO_BIG,
      `Max payload size exceeded (${data.length} bytes inflated)`
    )
    return
  }
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

/**
 * The peer's Close frame has arrived. ws reports the end of the connection ("close") only once TCP has ended, which a
 * peer may delay for as long as it likes; its receiver's "conclude" event is the moment the Close frame was read. Our
 * listener runs after ws's own (registered first), which has already echoed the Close. `_receiver` and "conclude"
 * are ws internals (stable since ws 2); test/hardening pins them so that a ws upgrade that renames them fails a test.
 */
function onConclude(this: { readonly [wsOfReceiver]?: WebSocket }, code: number, reason: Buffer): void {
  const ws = this[wsOfReceiver]
  if (ws !== undefined) listenerOf(ws).onCloseFrame?.(code, reason.toString())
}
const wsOfReceiver = Symbol.for("effect-websockets/NodeEngine/ws")

/** ws's receiver (a private field), whose "conclude" event marks the arrival of the peer's Close frame. */
const receiverOf = (ws: WebSocket): import("node:events").EventEmitter | undefined =>
  (ws as unknown as { readonly _receiver?: import("node:events").EventEmitter })._receiver

function onOpen(this: WebSocket): void {
  const attempt = attemptOf(this)
  const connection = makeConnection(this, attempt.upgrade)
  if (connection.deflated) connection.compressThreshold = attempt.compressThreshold
  attempt.upgrade = undefined // the upgrade response (and its socket state) is not needed once read
  // the handshake's handlers are done with; starting the listener table afresh (rather than removing them one by
  // one, which leaves its capacity as it was) keeps it small for the life of the connection
  this.removeAllListeners() // from here on the connection needs only the listener: the attempt can go
  ;(this as Tracked)[linkKey] = attempt.listener
  this.on("error", onError)
  if (attempt.inflatedLimit === undefined) {
    this.on("message", onMessage)
  } else {
    ;(this as Limited)[limitKey] = attempt.inflatedLimit
    this.on("message", onLimitedMessage)
  }
  this.on("ping", onPing)
  this.on("pong", onPong)
  this.on("close", onClose)
  const receiver = receiverOf(this)
  if (receiver !== undefined) {
    ;(receiver as { [wsOfReceiver]?: WebSocket })[wsOfReceiver] = this
    receiver.on("conclude", onConclude)
  }
  attempt.listener.onOpen(connection)
  attempt.settle({ _tag: "Opened", connection })
}

const closedDuringHandshake: Transport.ConnectFailure = { _tag: "ClosedDuringHandshake" }
const noAbort: Transport.Abort = () => {}

/**
 * Opens a connection over `ws`: `done` gets the open connection (after `listener.onOpen`) or why it failed; the
 * returned function aborts an attempt still running (the socket is terminated). `tls` applies to `wss://` only; it
 * holds plain values (a `Redacted` key is unwrapped by the caller).
 */
export const connect = (
  request: Transport.ConnectRequest,
  listener: Transport.Listener,
  done: Transport.Done,
  tls?: ConnectionOptions | undefined
): Transport.Abort => {
  let ws: WebSocket
  const deflate = request.deflate !== undefined
  try {
    ws = new WebSocket(request.url, [...request.protocols], {
      // TLS settings apply to wss:// only; they come first so that nothing below can be overridden by them
      // (a plain object: @types/ws declares an outdated `checkServerIdentity`, Node's own is passed through)
      ...(tls !== undefined && request.url.protocol === "wss:" ? tls as object : {}),
      headers: request.headers,
      maxPayload: deflate
        ? compressedAllowance(request.maxFrameSize)
        : Math.min(MAX_WS_PAYLOAD, request.maxFrameSize),
      perMessageDeflate: request.deflate === undefined ? false : {
        clientNoContextTakeover: request.deflate.clientNoContextTakeover ?? false,
        serverNoContextTakeover: request.deflate.serverNoContextTakeover ?? false,
        ...(request.deflate.compressionLevel === undefined
          ? {}
          : { zlibDeflateOptions: { level: request.deflate.compressionLevel } }),
        // ws applies its `threshold` only with client_no_context_takeover; NodeConnection applies it always
        threshold: request.deflate.compressIfBiggerThan ?? DEFAULT_COMPRESS_THRESHOLD
      },
      // pongs are the session's job so that the rule lives in one place for every engine
      autoPong: false,
      followRedirects: false,
      // ws >= 8.19 option (the floor in package.json), missing from @types/ws: give up on the closing handshake
      // after the same wait as the session's
      ...{ closeTimeout: CLOSE_HANDSHAKE_TIMEOUT_MS }
    } as WebSocket.ClientOptions)
  } catch (error) {
    // the request was checked before (core/request.ts): what is left is a setting ws or Node refused
    done({ _tag: "NotStarted", cause: error })
    return noAbort
  }
  const attempt = new Attempt(listener, done)
  attempt.protocols = request.protocols
  if (deflate) {
    attempt.inflatedLimit = request.maxFrameSize
    attempt.compressThreshold = request.deflate!.compressIfBiggerThan ?? DEFAULT_COMPRESS_THRESHOLD
  }
  ;(ws as Tracked)[linkKey] = attempt
  ws.binaryType = "nodebuffer"
  // the handshake's handlers; `onOpen` replaces them with those of an open connection
  ws.on("upgrade", onUpgrade)
  ws.on("unexpected-response", onUnexpectedResponse)
  ws.on("error", onHandshakeError)
  ws.on("close", onHandshakeClose)
  ws.on("open", onOpen)
  return () => attempt.abort(ws)
}

const agreedExtensions = (upgrade: IncomingMessage | undefined): string | undefined => {
  const header = upgrade?.headers["sec-websocket-extensions"]
  return Array.isArray(header) ? header.join(", ") : header
}

/**
 * A flush probe: an empty write to the socket, whose callback runs once every write queued before it has been handed
 * to the kernel (or the socket has failed). One probe per connection serves every waiting flush.
 */
function onProbed(this: NodeConnection): void {
  this.probing = false
  this.checkDrained()
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
class NodeConnection implements Transport.Connection {
  /** Messages under this many bytes go uncompressed (0: no threshold, or no permessage-deflate agreed). */
  compressThreshold = 0
  /**
   * Frames sent in a burst leave together: the first send of a tick is written at once (no added latency for a
   * lone message), and if more follow in the same tick the socket is corked until the next tick, so that they
   * share one write (ws corks each frame itself; corking nests). Without this every small message costs a syscall
   * and a TCP segment of its own, on both ends. `_socket` is ws's own (undocumented, stable since ws 1) field.
   */
  readonly socket: Socket | undefined
  burst = NO_BURST
  /** Flushes waiting for everything queued to be written; built on the first flush that has to wait. */
  flushWaiters: Set<() => void> | undefined = undefined
  /** A probe is queued on the socket (see `onProbed`). */
  probing = false
  /** The check for ws's own queue (messages being compressed) is scheduled. */
  recheck: ReturnType<typeof setImmediate> | undefined = undefined
  constructor(private readonly ws: WebSocket, readonly handshake: Transport.Handshake) {
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
      sendOptions(data, fin, this.compressThreshold),
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
    // a Close sent in this tick may still sit in a corked burst: let it reach the kernel before the socket goes
    if (this.burst === BURST_CORKED) endBurst(this)
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
  flush(onDrained: () => void): (() => void) | undefined {
    if (this.drained()) {
      onDrained()
      return undefined
    }
    const waiters = this.flushWaiters ??= new Set()
    waiters.add(onDrained)
    this.checkDrained()
    return () => {
      waiters.delete(onDrained)
      if (waiters.size === 0 && this.recheck !== undefined) {
        clearImmediate(this.recheck)
        this.recheck = undefined
      }
    }
  }
  /** Everything queued has been written, or nothing more can be. */
  private drained(): boolean {
    return this.ws.bufferedAmount === 0 || this.ws.readyState === WebSocket.CLOSED || this.socket === undefined ||
      this.socket.destroyed || !this.socket.writable
  }
  /** Wakes the waiting flushes once drained; otherwise waits for the next event that may have drained it. */
  checkDrained(): void {
    const waiters = this.flushWaiters
    if (waiters === undefined || waiters.size === 0) return
    if (this.drained()) {
      this.flushWaiters = undefined
      for (const waiter of waiters) waiter()
      return
    }
    const socket = this.socket!
    if (socket.writableLength > 0) {
      if (!this.probing) {
        this.probing = true
        socket.write(emptyPayload(), onProbed.bind(this))
      }
    } else if (this.recheck === undefined) {
      // the socket is empty and ws still holds bytes: messages being compressed, which ws writes once zlib has
      // answered (an I/O callback); check again after it
      this.recheck = setImmediate(() => {
        this.recheck = undefined
        this.checkDrained()
      })
    }
  }
  /** Whether permessage-deflate was agreed. */
  get deflated(): boolean {
    return this.ws.extensions !== ""
  }
}

const makeConnection = (ws: WebSocket, upgrade: IncomingMessage | undefined): NodeConnection =>
  new NodeConnection(ws, {
    status: upgrade?.statusCode ?? 101,
    headers: upgrade === undefined ? {} : flatHeaders(upgrade),
    protocol: ws.protocol,
    // ws.extensions holds only the names; the accepted header carries the agreed parameters too
    extensions: ws.extensions === "" ? "" : agreedExtensions(upgrade) ?? ws.extensions
  })
