/**
 * The engine over the standard `WebSocket` class of browsers, workers, Deno, Bun and Node >= 22
 * (`BrowserEngine.layer`), or over any class with the same API (`BrowserEngine.layerConstructor`, e.g. `ws`'s
 * `WebSocket` on Node 20).
 *
 * The standard API is smaller than what `NodeEngine` can do, and this engine says so instead of pretending
 * (docs/BrowserEngine.md has the table per runtime):
 * - no Ping frames: the runtime answers the peer's Pings itself, and a `pingInterval` fails with `Capability`;
 * - no pausing of reads: messages a slow consumer has not taken stay in memory (the runtime reads on);
 * - request headers only where the constructor takes them (Bun and Deno: `new WebSocket(url, { headers })`);
 * - extensions are the runtime's choice: `deflate: true` where it offers permessage-deflate, no settings;
 * - `maxFrameSize` is judged on each whole message as it arrives (the runtime has buffered it by then);
 * - close codes a runtime refuses to send (browsers and Deno send only 1000 and 3000–4999) go out as
 *   4000 + (code − 1000): 1001 → 4001, 1009 → 4009, 1011 → 4011, with the same reason text;
 * - the handshake's status is read from the runtime's error message where it gives one (Bun, Deno, `ws`);
 *   browsers give none, so a refused upgrade is a `Connect` failure there, like an unreachable server.
 *
 * This module imports nothing from Node and touches no global when imported: the `WebSocket` global is read when
 * the layer is built.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Engine from "./Engine.js"
import { WebSocketException } from "./Errors.js"

/**
 * The part of the standard `WebSocket` interface this engine uses.
 *
 * @since 0.1.0
 * @category models
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
 *
 * @since 0.1.0
 * @category models
 */
export interface WebSocketConstructor {
  new(url: string, protocols?: string | Array<string>): WebSocketLike
}

/**
 * What a `WebSocket` class can do beyond the standard API, which the engine cannot find out by itself.
 *
 * @since 0.1.0
 * @category models
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
const sendableCode = (code: number): number => code >= 1000 && code <= 1999 ? 4000 + (code - 1000) : 4000

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

const capabilityError = WebSocketException.capability

/** A waiter for `bufferedAmount` to fall to `threshold`. */
interface Waiter {
  readonly threshold: number
  readonly done: (error?: Error) => void
}

/**
 * One connection, from the attempt to its end. It is the event listener of its socket (`handleEvent`), so a
 * connection costs one object, not a closure per event type.
 */
class BrowserConnection implements Engine.Connection {
  handshake: Engine.Handshake = { status: 101, headers: {}, protocol: "", extensions: "" }
  /** The standard API cannot send control frames: the runtime answers Pings itself. */
  readonly controlFrames = false
  private opened = false
  private settled = false
  private errorMessage = ""
  /** A fragmented message being sent: the standard API sends whole messages only, so fragments wait here. */
  private fragments: Array<string | Uint8Array> = []
  private waiters: Array<Waiter> = []
  private polling = false

  constructor(
    private readonly socket: WebSocketLike,
    /** For handshake errors only, and dropped once open: the connection keeps no URL (and no password). */
    private url: URL | undefined,
    private readonly maxFrameSize: number,
    private readonly listener: Engine.Listener,
    private onSettled: ((effect: Effect.Effect<Engine.Connection, WebSocketException>) => void) | undefined
  ) {}

  private settle(effect: Effect.Effect<Engine.Connection, WebSocketException>): void {
    if (this.settled) return
    this.settled = true
    const onSettled = this.onSettled!
    // cleared once used: the socket's listener must not keep the connecting fiber alive for the connection's life
    this.onSettled = undefined
    onSettled(effect)
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
    this.url = undefined
    // the standard API shows neither the status nor the headers of the answer: `open` means it was 101
    this.handshake = {
      status: 101,
      headers: {},
      protocol: this.socket.protocol,
      extensions: this.socket.extensions
    }
    this.listener.onOpen(this)
    this.settle(Effect.succeed(this))
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
      1009,
      `a message of ${size} ${unit} is larger than maxFrameSize (${this.maxFrameSize} bytes)`
    )
  }

  private onClose(code: number, reason: string, wasClean: boolean): void {
    this.fail(new Error("The WebSocket is closed"))
    if (!this.opened) {
      const status = statusIn(this.errorMessage)
      return this.settle(Effect.fail(
        status !== undefined && status !== 101
          ? WebSocketException.handshake(status)
          : WebSocketException.connectWith(
            this.url!,
            this.errorMessage === ""
              // browsers reveal nothing (no status, no network error) to the page: say so
              ? `the runtime gives no reason (code ${code}); ` +
                `a refused upgrade, an unreachable server and a TLS failure look the same here`
              : this.errorMessage
          )
      ))
    }
    // a close that is not clean had no Close frame from the peer, whatever code the runtime reports
    this.listener.onClose(wasClean ? code : 1006, wasClean ? reason : "")
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

  flush(onDrained: () => void): void {
    this.whenBelow(0, onDrained)
  }

  private whenBelow(threshold: number, done: (error?: Error) => void): void {
    if (this.socket.readyState === CLOSED) return done(new Error("The WebSocket is closed"))
    if (this.socket.bufferedAmount <= threshold) return done()
    this.waiters.push({ threshold, done })
    if (!this.polling) {
      this.polling = true
      setTimeout(poll, POLL_MILLIS, this)
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
    this.polling = waiting.length > 0 && this.socket.readyState !== CLOSED
    if (!this.polling && waiting.length > 0) this.fail(new Error("The WebSocket is closed"))
    return this.polling
  }

  private fail(error: Error): void {
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter.done(error)
  }
}

const poll = (connection: BrowserConnection): void => {
  if (connection.poll()) setTimeout(poll, POLL_MILLIS, connection)
}

const hasDeflateSettings = (deflate: Engine.DeflateOptions): boolean =>
  deflate.clientNoContextTakeover !== undefined || deflate.serverNoContextTakeover !== undefined ||
  deflate.compressionLevel !== undefined || deflate.compressIfBiggerThan !== undefined

/**
 * The engine over the class `C`, which can do what `features` says beyond the standard API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeConstructor = (C: WebSocketConstructor, features: Features = {}): Engine.Service => {
  const capabilities = new Set<Engine.Capability>([
    Engine.WebSocketCapability,
    Engine.ProtocolsCapability,
    // judged on each whole message as it arrives
    Engine.MaxFrameSizeCapability
  ])
  if (features.headers === true) capabilities.add(Engine.HeadersCapability)
  if (features.deflate === true) capabilities.add(Engine.WebSocketExtensionsCapability)
  const connect = (request: Engine.ConnectRequest, listener: Engine.Listener) =>
    Effect.async<Engine.Connection, WebSocketException>((resume) => {
      if (request.deflate !== undefined && hasDeflateSettings(request.deflate)) {
        return resume(Effect.fail(capabilityError(
          "extensions",
          "the runtime chooses the permessage-deflate parameters itself; only `deflate: true` can be honoured"
        )))
      }
      let url = request.url
      let headers = request.headers
      if (url.username !== "" || url.password !== "") {
        if (features.headers !== true) {
          return resume(Effect.fail(capabilityError(
            "headers",
            "the URL's credentials need an Authorization header, which this runtime cannot send"
          )))
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
        // the runtime's message may quote the URL with its password: scrubbed, and the error kept only when clean
        return resume(Effect.fail(WebSocketException.connect(request.url, error)))
      }
      socket.binaryType = "arraybuffer"
      const connection = new BrowserConnection(socket, request.url, request.maxFrameSize, listener, resume)
      socket.addEventListener("open", connection)
      socket.addEventListener("message", connection)
      socket.addEventListener("error", connection)
      socket.addEventListener("close", connection)
      return Effect.sync(() => connection.abort())
    })
  return { name: "browser", capabilities, connect }
}

/**
 * What the global `WebSocket` of the running runtime can do: Bun and Deno take request headers; browsers and Bun
 * offer permessage-deflate, Deno does not.
 *
 * @since 0.1.0
 * @category constructors
 */
export const globalFeatures = (): Features => {
  const isDeno = "Deno" in globalThis
  const isBun = "Bun" in globalThis
  return { headers: isDeno || isBun, deflate: !isDeno }
}

const noGlobal: Engine.Service = {
  name: "browser",
  capabilities: new Set(),
  connect: () =>
    Effect.fail(capabilityError("WebSockets", "this runtime has no global WebSocket (Node < 22): use NodeEngine"))
}

/**
 * The engine over the runtime's global `WebSocket`; without one (Node < 22) every connection fails with
 * `Capability`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Engine.Service => {
  const C = (globalThis as { readonly WebSocket?: WebSocketConstructor }).WebSocket
  return C === undefined ? noGlobal : makeConstructor(C, globalFeatures())
}

/**
 * The engine over the runtime's global `WebSocket` (browsers, workers, Deno, Bun, Node >= 22), read when the
 * layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Engine.Engine> = Layer.sync(Engine.Engine, make)

/**
 * The engine over another class with the standard `WebSocket` API, e.g. `ws`'s `WebSocket` on Node 20:
 * `BrowserEngine.layerConstructor(WebSocket, { deflate: true })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConstructor = (C: WebSocketConstructor, features?: Features): Layer.Layer<Engine.Engine> =>
  Layer.sync(Engine.Engine, () => makeConstructor(C, features))
