/**
 * The in-memory connection behind `TestEngine`: one object holds both ends of a connection, the client side the
 * session talks to (an `Engine.Connection`) and the scripted server side (`ServerConnection`).
 *
 * The client side follows what `ws` does on the wire, so that a session cannot tell the engines apart: messages
 * over `maxFrameSize` and malformed control frames are violations answered with a Close, a peer's Close is echoed
 * and ends the connection, our Close waits for the peer's answer, `pause` stops delivery (pongs and the peer's
 * Close included) until `resume`.
 */
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import { CloseReason, isValidWireCode, normal } from "../CloseReason.js"
import type * as Engine from "../Engine.js"
import * as Frame from "../Frame.js"

/** The handshake request as the scripted server sees it. */
export interface ServerRequest {
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly protocols: ReadonlyArray<string>
  /** The permessage-deflate offer, when the client made one. */
  readonly deflate: Engine.DeflateOptions | undefined
  readonly maxFrameSize: number
}

/** The server end of one connection. */
export interface ServerConnection {
  readonly request: ServerRequest
  readonly incoming: Stream.Stream<Frame.Frame>
  readonly receive: Effect.Effect<Frame.Frame, Cause.NoSuchElementException>
  readonly received: Effect.Effect<ReadonlyArray<Frame.Frame>>
  readonly send: (data: string | Uint8Array | Frame.Frame) => Effect.Effect<void>
  readonly close: (reason?: CloseReason) => Effect.Effect<void>
  readonly drop: Effect.Effect<void>
  readonly closed: Effect.Effect<void>
}

/** How the scripted server's protocol layer behaves. */
export interface Behaviour {
  readonly ignorePings: boolean
  readonly ignoreClose: boolean
}

const encoder = new TextEncoder()

const copy = (bytes: Uint8Array): Uint8Array => bytes.slice()

const sizeOf = (data: string | Uint8Array): number =>
  typeof data === "string" ? encoder.encode(data).byteLength : data.byteLength

const asFrame = (data: string | Uint8Array | Frame.Frame): Frame.Frame =>
  typeof data === "string" ? Frame.text(data) : data instanceof Uint8Array ? Frame.binary(data) : data

/** A data message being reassembled from fragments. */
interface Fragments {
  readonly binary: boolean
  readonly parts: Array<string | Uint8Array>
  size: number
}

const join = (fragments: Fragments): string | Uint8Array => {
  if (!fragments.binary) return (fragments.parts as Array<string>).join("")
  const out = new Uint8Array(fragments.size)
  let offset = 0
  for (const part of fragments.parts as Array<Uint8Array>) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

/** Both ends of one in-memory connection. */
export class TestConnection {
  /** Frames the client sent, as the server script reads them. */
  readonly toServer: Mailbox.Mailbox<Frame.Frame>
  readonly ended: Deferred.Deferred<void>
  /** The client sent its Close. */
  closeSent = false
  /** The server sent its Close. */
  serverCloseSent = false
  /** The transport is gone; nothing moves any more. */
  isEnded = false
  /** The client gave up on the server's traffic after a violation: only a Close still counts. */
  violated = false
  paused = false
  readonly pending: Array<Frame.Frame> = []
  /** Every frame the client sent, read or not. */
  readonly log: Array<Frame.Frame> = []
  fragments: Fragments | undefined = undefined

  constructor(
    readonly request: ServerRequest,
    readonly listener: Engine.Listener,
    readonly behaviour: Behaviour,
    toServer: Mailbox.Mailbox<Frame.Frame>,
    ended: Deferred.Deferred<void>
  ) {
    this.toServer = toServer
    this.ended = ended
  }

  /** Ends the transport and tells the session. */
  finish(code: number, reason: string): void {
    if (this.isEnded) return
    this.isEnded = true
    this.pending.length = 0
    this.toServer.unsafeDone(Exit.void)
    Deferred.unsafeDone(this.ended, Exit.void)
    this.listener.onClose(code, reason)
  }

  /** Something the client puts on the wire. */
  toPeer(frame: Frame.Frame): void {
    this.log.push(frame)
    this.toServer.unsafeOffer(frame)
  }

  // ---- server → client ------------------------------------------------------------------------------------------

  /** A frame the server puts on the wire. */
  fromServer(frame: Frame.Frame): void {
    if (this.isEnded || this.serverCloseSent) return
    if (frame._tag === "Close") this.serverCloseSent = true
    if (this.paused) this.pending.push(frame)
    else this.deliver(frame)
  }

  private violation(violation: Engine.Violation, code: number, message: string): void {
    this.violated = true
    this.fragments = undefined
    // like ws: answer with a Close carrying the code, then stop reading everything but the peer's Close
    if (!this.closeSent) this.sendClose(code, "")
    this.listener.onViolation(violation, code, message)
  }

  private deliver(frame: Frame.Frame): void {
    if (this.isEnded) return
    if (this.violated && frame._tag !== "Close") return
    switch (frame._tag) {
      case "Text":
      case "Binary":
        return this.deliverData(frame)
      case "Ping":
      case "Pong": {
        if (frame.data.byteLength > Frame.MAX_CONTROL_PAYLOAD) {
          return this.violation("Protocol", 1002, "Invalid payload length " + frame.data.byteLength)
        }
        if (!frame.fin) return this.violation("Protocol", 1002, "FIN must be set")
        if (frame._tag === "Ping") this.listener.onPing(copy(frame.data))
        else this.listener.onPong(copy(frame.data))
        return
      }
      case "Close":
        return this.deliverClose(frame)
    }
  }

  private deliverData(frame: Frame.Data): void {
    const size = sizeOf(frame.data)
    if (this.fragments === undefined) {
      if (size > this.request.maxFrameSize) return this.violation("FrameTooBig", 1009, "Max payload size exceeded")
      if (frame.fin) {
        this.listener.onMessage(frame._tag === "Text" ? frame.data : copy(frame.data))
        return
      }
      this.fragments = { binary: frame._tag === "Binary", parts: [], size: 0 }
    }
    // a data frame after an unfinished one continues that message, whatever its own type
    const fragments = this.fragments
    fragments.size += size
    if (fragments.size > this.request.maxFrameSize) {
      return this.violation("FrameTooBig", 1009, "Max payload size exceeded")
    }
    if (fragments.binary) fragments.parts.push(typeof frame.data === "string" ? encoder.encode(frame.data) : frame.data)
    else fragments.parts.push(Frame.readText(frame))
    if (frame.fin) {
      this.fragments = undefined
      this.listener.onMessage(join(fragments))
    }
  }

  private deliverClose(frame: Frame.Close): void {
    if (this.violated) return this.finish(1006, "")
    const payload = frame.data
    if (payload.byteLength === 1 || payload.byteLength > Frame.MAX_CONTROL_PAYLOAD) {
      return this.violation("Protocol", 1002, "Invalid payload length " + payload.byteLength)
    }
    const reason = Frame.decodeCloseReason(payload)
    if (Option.isSome(reason) && !isValidWireCode(reason.value.code)) {
      return this.violation("Protocol", 1002, "Invalid status code " + reason.value.code)
    }
    const code = Option.isSome(reason) ? reason.value.code : 1005
    const message = Option.isSome(reason) ? reason.value.message : ""
    // like ws: a Close we did not start is echoed with the same code and reason
    if (!this.closeSent) {
      this.closeSent = true
      this.toPeer(frame.data.byteLength === 0 ? Frame.close() : Frame.close(new CloseReason({ code, message })))
    }
    this.finish(code, message)
  }

  /** Delivers what waited while paused, until paused again. */
  private drain(): void {
    while (!this.paused && this.pending.length > 0) this.deliver(this.pending.shift()!)
  }

  // ---- client → server ------------------------------------------------------------------------------------------

  private sendClose(code: number, reason: string): void {
    this.closeSent = true
    this.toPeer(Frame.close(new CloseReason({ code, message: reason })))
    if (!this.behaviour.ignoreClose) {
      queueMicrotask(() => {
        // a server that had sent its Close already (one we refused) now has both and ends the connection
        if (this.violated && this.serverCloseSent) return this.finish(1006, "")
        // otherwise its protocol layer answers with the same code, as ws and most servers do
        this.fromServer(Frame.close(new CloseReason({ code, message: reason })))
      })
    }
  }

  /** The client end, as the session sees it. */
  connection(handshake: Engine.Handshake): Engine.Connection {
    return {
      handshake,
      send: (data, fin, onWritten) => {
        if (this.isEnded || this.closeSent) {
          if (onWritten !== undefined) queueMicrotask(() => onWritten(new Error("WebSocket is not open")))
          return
        }
        this.toPeer(typeof data === "string" ? Frame.text(data, fin) : Frame.binary(copy(data), fin))
        if (onWritten !== undefined) queueMicrotask(() => onWritten())
      },
      ping: (payload) => {
        if (this.isEnded || this.closeSent) return
        const data = copy(payload)
        this.toPeer(Frame.ping(data))
        if (!this.behaviour.ignorePings) queueMicrotask(() => this.fromServer(Frame.pong(data)))
      },
      pong: (payload) => {
        if (this.isEnded || this.closeSent) return
        this.toPeer(Frame.pong(copy(payload)))
      },
      close: (code, reason) => {
        if (this.isEnded || this.closeSent) return
        this.sendClose(code, reason)
      },
      terminate: () => {
        if (this.isEnded) return
        this.finish(1006, "")
      },
      pause: () => {
        this.paused = true
      },
      resume: () => {
        if (!this.paused) return
        this.paused = false
        this.drain()
      },
      bufferedAmount: () => 0,
      flush: (onDrained) => onDrained()
    }
  }

  private serverEnd: ServerConnection | undefined = undefined

  /** The server end, as a test script sees it. */
  server(): ServerConnection {
    return this.serverEnd ??= {
      request: this.request,
      incoming: Mailbox.toStream(this.toServer),
      receive: this.toServer.take,
      received: Effect.sync(() => this.log.slice()),
      send: (data) => Effect.sync(() => this.fromServer(asFrame(data))),
      close: (reason = normal) => Effect.sync(() => this.fromServer(Frame.close(reason))),
      drop: Effect.sync(() => this.finish(1006, "")),
      closed: Deferred.await(this.ended)
    }
  }
}

/** Opens the two ends of a connection. */
export const make = (
  request: ServerRequest,
  listener: Engine.Listener,
  behaviour: Behaviour
): Effect.Effect<TestConnection> =>
  Effect.map(
    Effect.zip(Mailbox.make<Frame.Frame>(), Deferred.make<void>()),
    ([toServer, ended]) => new TestConnection(request, listener, behaviour, toServer, ended)
  )
