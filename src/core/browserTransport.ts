/**
 * The transport over the standard `WebSocket` class (browsers, workers, Deno, Bun, Node >= 22, or any class with
 * the same API), in callback form (`connect(C, features)(request, listener, done) => abort`). It imports nothing
 * from Node and touches no global: `BrowserEngine` picks the class and wraps this in Effects. What the standard API
 * cannot do (no Ping frames, no paused reads, close codes the runtime refuses) is handled here, as docs/BrowserEngine.md
 * describes.
 */
import { CloseCodes } from "./limits.js"
import type * as Transport from "./transport.js"

/**
 * The part of the standard `WebSocket` interface this engine uses.
 */
export interface WebSocketLike {
  binaryType: string
  readonly bufferedAmount: number
  readonly extensions: string
  readonly protocol: string
  readonly readyState: number
  send(data: string | Uint8Array): void
  close(code?: number, reason?: string): void
  addEventListener(type: string, listener: { handleEvent(event: any): void }): void
}

/**
 * A class with the standard `WebSocket` constructor: `new C(url, protocols)`.
 */
export interface WebSocketConstructor {
  new(url: string, protocols?: string | Array<string>): WebSocketLike
}

/**
 * What a `WebSocket` class can do beyond the standard API, which the engine cannot find out by itself.
 */
export interface Features {
  /**
   * The constructor also takes `new C(url, { headers, protocols })` and sends those headers (Bun and Deno).
   * Default: false.
   */
  readonly headers?: boolean | undefined
  /** The class offers permessage-deflate on its own (browsers, Bun, `ws`), so `deflate: true` can be honoured. */
  readonly deflate?: boolean | undefined
}

/** `readyState` of a closed socket in the standard API. */
const CLOSED = 3

/** How often pending write and drain waiters look at `bufferedAmount`: the standard API has no drain event. */
const POLL_MILLIS = 2

/**
 * The standard API (browsers, Deno) may only send 1000 and 3000–4999. A code outside that range goes out in the
 * private-use range at the same offset, so the peer still learns which well-known code was meant.
 */
const sendableCode = (code: number): number =>
  code >= CloseCodes.NORMAL && code <= 1999 ? PRIVATE_USE + (code - CloseCodes.NORMAL) : PRIVATE_USE
/** The first close code of the private-use range (RFC 6455 §7.4.2), which every runtime may send. */
const PRIVATE_USE = 4000

/** The handshake status named in a runtime's error message: Bun, Deno and `ws` say it; browsers do not. */
const statusPatterns = [/status code:? (\d{3})\b/i, /unexpected server response: (\d{3})\b/i]

const statusIn = (message: string): number | undefined => {
  for (const pattern of statusPatterns) {
    const match = pattern.exec(message)
    if (match !== null) return Number(match[1])
  }
  return undefined
}

/** The message of an error event, where the runtime gives one (browsers give none). */
const eventMessage = (event: unknown): string => {
  const message = (event as { readonly message?: unknown } | undefined)?.message
  return typeof message === "string" ? message : ""
}

/** UTF-8 length of `text`, computed only when the cheap bounds (1–3 bytes per UTF-16 unit) cannot decide. */
const exceedsUtf8 = (text: string, limit: number): boolean => {
  if (text.length > limit) return true
  if (text.length * 3 <= limit) return false
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      // a surrogate pair is one code point of 4 bytes
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes > limit
}

const basicAuthorization = (url: URL): string => {
  const credentials = new TextEncoder().encode(
    `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
  )
  let binary = ""
  for (const byte of credentials) binary += String.fromCharCode(byte)
  return `Basic ${btoa(binary)}`
}

/** A waiter for `bufferedAmount` to fall to `threshold`. */
interface Waiter {
  readonly threshold: number
  readonly done: (error?: Error) => void
}

/**
 * One connection, from the attempt to its end. It is the event listener of its socket (`handleEvent`), so a
 * connection costs one object, not a closure per event type.
 */
class BrowserConnection implements Transport.Connection {
  handshake: Transport.Handshake = { status: 101, headers: {}, protocol: "", extensions: "" }
  /** The standard API cannot send control frames: the runtime answers Pings itself. */
  readonly controlFrames = false
  private opened = false
  private settled = false
  private errorMessage = ""
  /** A fragmented message being sent: the standard API sends whole messages only, so fragments wait here. */
  private fragments: Array<string | Uint8Array> = []
  private waiters: Array<Waiter> = []
  /** The poll timer, while some waiter waits: cleared when the last one leaves (an interrupted flush). */
  private timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(
    private readonly socket: WebSocketLike,
    private readonly maxFrameSize: number,
    private readonly listener: Transport.Listener,
    private onSettled: Transport.Done | undefined
  ) {}

  private settle(outcome: Transport.Opened | Transport.ConnectFailure): void {
    if (this.settled) return
    this.settled = true
    const onSettled = this.onSettled!
    // cleared once used: the socket's listener must not keep the caller (the connecting fiber) alive for the
    // connection's life
    this.onSettled = undefined
    onSettled(outcome)
  }

  /** The attempt was interrupted (timeout, caller): closing a connecting socket aborts it. */
  abort(): void {
    if (this.settled) return
    this.settled = true
    this.onSettled = undefined
    this.socket.close()
  }

  handleEvent(event: { readonly type: string }): void {
    switch (event.type) {
      case "open":
        return this.onOpen()
      case "message":
        return this.onMessage((event as unknown as { readonly data: unknown }).data)
      case "error":
        // the close event follows; its handler reports the failure, with this message where there is one
        this.errorMessage = eventMessage(event)
        return
      case "close": {
        const close = event as unknown as { readonly code: number; readonly reason: string; readonly wasClean: boolean }
        return this.onClose(close.code, close.reason, close.wasClean)
      }
    }
  }

  private onOpen(): void {
    if (this.settled) return
    this.opened = true
    // the standard API shows neither the status nor the headers of the answer: `open` means it was 101
    this.handshake = {
      status: 101,
      headers: {},
      protocol: this.socket.protocol,
      extensions: this.socket.extensions
    }
    this.listener.onOpen(this)
    this.settle({ _tag: "Opened", connection: this })
  }

  private onMessage(data: unknown): void {
    if (!this.opened) return
    let message: string | Uint8Array
    if (typeof data === "string") {
      if (exceedsUtf8(data, this.maxFrameSize)) return this.tooBig(data.length, "characters")
      message = data
    } else if (data instanceof ArrayBuffer) {
      if (data.byteLength > this.maxFrameSize) return this.tooBig(data.byteLength, "bytes")
      message = new Uint8Array(data)
    } else if (ArrayBuffer.isView(data)) {
      // a class that ignores `binaryType = "arraybuffer"` (e.g. hands out Node Buffers)
      if (data.byteLength > this.maxFrameSize) return this.tooBig(data.byteLength, "bytes")
      message = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    } else {
      return
    }
    this.listener.onMessage(message)
  }

  private tooBig(size: number, unit: string): void {
    this.listener.onViolation(
      "FrameTooBig",
      CloseCodes.TOO_BIG,
      `a message of ${size} ${unit} is larger than maxFrameSize (${this.maxFrameSize} bytes)`
    )
  }

  private onClose(code: number, reason: string, wasClean: boolean): void {
    this.fail(new Error("The WebSocket is closed"))
    if (!this.opened) {
      const status = statusIn(this.errorMessage)
      return this.settle(
        status !== undefined && status !== 101
          ? { _tag: "UnexpectedStatus", status }
          : {
            _tag: "Unreachable",
            detail: this.errorMessage === ""
              // browsers reveal nothing (no status, no network error) to the page: say so
              ? `the runtime gives no reason (code ${code}); ` +
                `a refused upgrade, an unreachable server and a TLS failure look the same here`
              : this.errorMessage
          }
      )
    }
    // a close that is not clean had no Close frame from the peer, whatever code the runtime reports
    this.listener.onClose(wasClean ? code : CloseCodes.CLOSED_ABNORMALLY, wasClean ? reason : "")
  }

  send(data: string | Uint8Array, fin: boolean, onWritten?: (error?: Error) => void): void {
    if (!fin) {
      this.fragments.push(data)
      onWritten?.()
      return
    }
    const whole = this.fragments.length === 0 ? data : this.join(data)
    const ahead = this.socket.bufferedAmount
    try {
      this.socket.send(whole)
    } catch (error) {
      onWritten?.(error as Error)
      return
    }
    // handed over once what was queued ahead of it has left (the standard API reports no more than that)
    if (onWritten !== undefined) this.whenBelow(ahead, onWritten)
  }

  private join(last: string | Uint8Array): string | Uint8Array {
    const parts = this.fragments
    this.fragments = []
    parts.push(last)
    if (typeof last === "string") return parts.join("")
    let length = 0
    for (const part of parts) length += (part as Uint8Array).byteLength
    const out = new Uint8Array(length)
    let offset = 0
    for (const part of parts) {
      out.set(part as Uint8Array, offset)
      offset += (part as Uint8Array).byteLength
    }
    return out
  }

  ping(): void {
    // unreachable through the session: `controlFrames` is false and the plugin refuses a pingInterval
  }

  pong(): void {
    // the runtime answers the peer's Pings itself
  }

  close(code: number, reason: string): void {
    try {
      this.socket.close(code, reason)
    } catch {
      // the runtime refuses this code (browsers and Deno send only 1000 and 3000–4999)
      this.socket.close(sendableCode(code), reason)
    }
  }

  terminate(): void {
    // the standard API cannot drop a connection without a Close; `ws` can
    const terminate = (this.socket as { readonly terminate?: () => void }).terminate
    if (typeof terminate === "function") terminate.call(this.socket)
    else this.socket.close()
  }

  pause(): void {
    // the standard API cannot stop reading: messages wait in the session's buffer (see docs/BrowserEngine.md)
  }

  resume(): void {}

  bufferedAmount(): number {
    return this.socket.bufferedAmount
  }

  flush(onDrained: () => void): (() => void) | undefined {
    return this.whenBelow(0, onDrained)
  }

  /** Calls `done` once `bufferedAmount` is at most `threshold`; returns what unregisters it (nothing left behind). */
  private whenBelow(threshold: number, done: (error?: Error) => void): (() => void) | undefined {
    if (this.socket.readyState === CLOSED) {
      done(new Error("The WebSocket is closed"))
      return undefined
    }
    if (this.socket.bufferedAmount <= threshold) {
      done()
      return undefined
    }
    const waiter: Waiter = { threshold, done }
    this.waiters.push(waiter)
    if (this.timer === undefined) this.timer = setTimeout(poll, POLL_MILLIS, this)
    return () => {
      const index = this.waiters.indexOf(waiter)
      if (index === -1) return
      this.waiters.splice(index, 1)
      if (this.waiters.length === 0 && this.timer !== undefined) {
        clearTimeout(this.timer)
        this.timer = undefined
      }
    }
  }

  /** Wakes the waiters whose threshold has been reached; true while some still wait. */
  poll(): boolean {
    const amount = this.socket.bufferedAmount
    const waiting: Array<Waiter> = []
    for (const waiter of this.waiters) {
      if (amount <= waiter.threshold) waiter.done()
      else waiting.push(waiter)
    }
    this.waiters = waiting
    const polling = waiting.length > 0 && this.socket.readyState !== CLOSED
    if (!polling && waiting.length > 0) this.fail(new Error("The WebSocket is closed"))
    return polling
  }

  /** The poll timer fired: look again, and again later while some waiter still waits. */
  tick(): void {
    this.timer = this.poll() ? setTimeout(poll, POLL_MILLIS, this) : undefined
  }

  private fail(error: Error): void {
    const waiters = this.waiters
    this.waiters = []
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    for (const waiter of waiters) waiter.done(error)
  }
}

const poll = (connection: BrowserConnection): void => connection.tick()

const hasDeflateSettings = (deflate: Transport.DeflateOptions): boolean =>
  deflate.clientNoContextTakeover !== undefined || deflate.serverNoContextTakeover !== undefined ||
  deflate.compressionLevel !== undefined || deflate.compressIfBiggerThan !== undefined
/**
 * A transport over the class `C`, which can do what `features` says beyond the standard API. A setting it cannot
 * honour (deflate parameters; credentials without header support) fails with `Unsupported` before any socket exists.
 */
export const connect =
  (C: WebSocketConstructor, features: Features = {}): Transport.Connect => (request, listener, done) => {
    if (request.deflate !== undefined && hasDeflateSettings(request.deflate)) {
      done({
        _tag: "Unsupported",
        setting: "extensions",
        why: "the runtime chooses the permessage-deflate parameters itself; only `deflate: true` can be honoured"
      })
      return noAbort
    }
    let url = request.url
    let headers = request.headers
    if (url.username !== "" || url.password !== "") {
      if (features.headers !== true) {
        done({
          _tag: "Unsupported",
          setting: "headers",
          why: "the URL's credentials need an Authorization header, which this runtime cannot send"
        })
        return noAbort
      }
      // the credentials travel as a header; the URL given to the runtime (and its error messages) has none
      headers = { authorization: basicAuthorization(url), ...headers }
      url = new URL(url.href)
      url.username = ""
      url.password = ""
    }
    let socket: WebSocketLike
    try {
      socket = Object.keys(headers).length > 0
        ? new (C as unknown as new(url: string, options: object) => WebSocketLike)(url.href, {
          headers,
          protocols: [...request.protocols]
        })
        : new C(url.href, [...request.protocols])
    } catch (error) {
      // the runtime's message may quote the URL with its password: the Effect side scrubs it (handshakeErrors.ts)
      done({ _tag: "Refused", cause: error })
      return noAbort
    }
    socket.binaryType = "arraybuffer"
    const connection = new BrowserConnection(socket, request.maxFrameSize, listener, done)
    socket.addEventListener("open", connection)
    socket.addEventListener("message", connection)
    socket.addEventListener("error", connection)
    socket.addEventListener("close", connection)
    return () => connection.abort()
  }

const noAbort: Transport.Abort = () => {}
