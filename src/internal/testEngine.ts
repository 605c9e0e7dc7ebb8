/**
 * The in-memory connection behind `TestEngine`: one object holds both ends of a connection, the client side the
 * session talks to (an `Engine.Connection`) and the scripted server side (`ServerConnection`).
 *
 * The client side follows what `ws` does on the wire, so that a session cannot tell the engines apart: messages
 * over `maxFrameSize`, malformed control frames and invalid UTF-8 (a Text message or a Close reason that is not
 * well-formed) are violations answered with a Close, a peer's Close is echoed and ends the connection, our Close waits
 * for the peer's answer, `pause` stops delivery (pongs and the peer's Close included) until `resume`, and what the
 * client had received before the server dropped the connection is still delivered before the drop (1006).
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { CloseReason, isValidWireCode, normal } from "../CloseReason.js"
import { CloseCodes } from "../core/limits.js"
import { redactUrl } from "../core/redact.js"
import type * as Engine from "../Engine.js"
import * as Frame from "../Frame.js"

/** The handshake request as the scripted server sees it. */
export interface ServerRequest {
  readonly url: URL
  /** The request headers, names in lower case (as a Node server sees them). */
  readonly headers: Readonly<Record<string, string>>
  readonly protocols: ReadonlyArray<string>
  /** The permessage-deflate offer, when the client made one. */
  readonly deflate: Engine.DeflateOptions | undefined
  readonly maxFrameSize: number
}

/** Who ended a connection: the side that sent the first Close, or nobody (dropped without a Close). */
export type Initiator = "client" | "server" | "dropped"

/**
 * The server script read past the end of its connection: `receive` after the connection ended. A handler that
 * stops this way ends quietly (reading until the client leaves is how a server loop ends).
 */
export class ConnectionClosed extends Data.TaggedError("ConnectionClosed")<{
  readonly message: string
  /** The connection's URL, password redacted. */
  readonly url: string
  readonly initiator: Initiator
  /** The close code the connection ended with (1006 when dropped). */
  readonly code: number
}> {}

/** The server end of one connection. */
export interface ServerConnection {
  readonly request: ServerRequest
  readonly incoming: Stream.Stream<Frame.Frame>
  readonly receive: Effect.Effect<Frame.Frame, ConnectionClosed>
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
const fatalDecoder = new TextDecoder("utf-8", { fatal: true })

const copy = (bytes: Uint8Array): Uint8Array => bytes.slice()

const sizeOf = (data: string | Uint8Array): number =>
  typeof data === "string" ? encoder.encode(data).byteLength : data.byteLength

const asFrame = (data: string | Uint8Array | Frame.Frame): Frame.Frame =>
  typeof data === "string" ? Frame.text(data) : data instanceof Uint8Array ? Frame.binary(data) : data

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Whether `s` can be written as UTF-8. A script's Text frame holding a lone surrogate is how it sends invalid UTF-8
 * (there is no other way to put a malformed sequence in a string); the client judges it as `ws` judges bad bytes.
 */
const isWellFormed = (s: string): boolean => {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed
  return native !== undefined ? native.call(s) : !loneSurrogate.test(s)
}

/** What a client's string becomes on the wire: `ws` encodes a lone surrogate as U+FFFD. */
const wellFormed = (s: string): string => {
  if (isWellFormed(s)) return s
  const native = (s as { toWellFormed?: () => string }).toWellFormed
  return native !== undefined ? native.call(s) : new TextDecoder().decode(encoder.encode(s))
}

const isValidUtf8 = (bytes: Uint8Array): boolean => {
  try {
    fatalDecoder.decode(bytes)
    return true
  } catch {
    return false
  }
}

// ---- fairness -------------------------------------------------------------------------------------------------------

/**
 * Effect's scheduler resumes fibers on microtasks. A request/response loop between the session and a handler
 * resumes one fiber from the other forever, so the microtask queue never empties and no timer, I/O callback or test
 * timeout can run (a real socket returns to the event loop on every read); so does a loop of short sessions. The
 * server end (each `receive`, each handshake) therefore returns to the event loop once a slice of work has gone on
 * for `SLICE_MS` without it turning.
 */
const SLICE_MS = 4

let sliceStart = 0
let sliceOpen = false

const now = (): number => globalThis.performance.now()

type Schedule = (f: () => void, millis: number) => () => void

/**
 * The host's own timers, taken when the module loads: fake timers installed later by a test (`vi.useFakeTimers`)
 * must not stop the engine's yields to the event loop, which only exist because real time has to go on.
 */
const hostTimers = ((): { readonly later: Schedule; readonly nextTurn: (f: () => void) => () => void } => {
  const g = globalThis as {
    setImmediate?: (f: () => void) => unknown
    clearImmediate?: (handle: unknown) => void
  }
  const setTimer = globalThis.setTimeout.bind(globalThis)
  const clearTimer = globalThis.clearTimeout.bind(globalThis)
  const later: Schedule = (f, millis) => {
    const handle = setTimer(f, millis)
    return () => clearTimer(handle)
  }
  const setImmediate = g.setImmediate?.bind(globalThis)
  const clearImmediate = g.clearImmediate?.bind(globalThis)
  return {
    later,
    // `setImmediate` where there is one (Node, Bun): it runs after I/O and before the loop would idle, and timers
    // that are due run on the way; elsewhere a zero timer
    nextTurn: setImmediate !== undefined && clearImmediate !== undefined
      ? (f) => {
        const handle = setImmediate(f)
        return () => clearImmediate(handle)
      }
      : (f) => later(f, 0)
  }
})()

/** Runs `f` on the next turn of the event loop. */
const nextTurn = (f: () => void): () => void => hostTimers.nextTurn(f)

/** Waits `millis` of real time, on the host's timers: not the Effect `Clock`, which a `TestClock` may stand for. */
export const realSleep = (millis: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => Effect.sync(hostTimers.later(() => resume(Effect.void), millis)))

const endSlice = () => {
  sliceOpen = false
}

/** True when the event loop has not turned for a whole slice: time to yield to it. */
const sliceSpent = (): boolean => {
  if (!sliceOpen) {
    sliceOpen = true
    sliceStart = now()
    // the slice ends whenever the event loop turns, whoever made it turn
    nextTurn(endSlice)
    return false
  }
  return now() - sliceStart >= SLICE_MS
}

/** Waits for the next turn of the event loop. */
const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const cancel = nextTurn(() => resume(Effect.void))
  return Effect.sync(cancel)
})

/** `effect`, after a turn of the event loop when the current slice is spent. */
export const fairly = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.suspend(() => sliceSpent() ? Effect.zipRight(yieldToEventLoop, effect) : effect)

// ---- the connection -------------------------------------------------------------------------------------------------

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

/** Marks, among frames waiting for a paused client, the point where the server dropped the connection. */
const DROPPED = Symbol.for("effect-websockets/TestEngine/dropped")

/** In the server's queue, after the last frame: the connection has ended. */
const END = Symbol.for("effect-websockets/TestEngine/end")

/** Listens to nothing: an ended connection lets go of its session. */
const detached: Engine.Listener = {
  onOpen: () => {},
  onMessage: () => {},
  onPing: () => {},
  onPong: () => {},
  onViolation: () => {},
  onClose: () => {}
}

/** Both ends of one in-memory connection. */
export class TestConnection {
  /** Frames the client sent, as the server script reads them; `END` once the connection is gone. */
  private readonly toServer: Queue.Queue<Frame.Frame | typeof END>
  /** Completes when the server end is gone (`closed`). */
  readonly ended: Deferred.Deferred<void>
  /** Told of what happens on the client end; detached once the connection ended. */
  private listener: Engine.Listener
  /** The client sent its Close. */
  closeSent = false
  /** The server sent its Close. */
  serverCloseSent = false
  /** Who sent the first Close. */
  private firstClose: "client" | "server" | undefined = undefined
  /** The server is gone (dropped, or shut down): nothing reaches it any more. */
  private serverGone = false
  /** How the server end ended, once it did. */
  private endedWith: { readonly initiator: Initiator; readonly code: number; readonly reason: string } | undefined =
    undefined
  /** The transport is gone on the client end; nothing moves any more. */
  isEnded = false
  /** The client gave up on the server's traffic after a violation: only a Close still counts. */
  violated = false
  paused = false
  /** What the server sent while the client was paused, delivered on `resume`. */
  readonly pending: Array<Frame.Frame | typeof DROPPED> = []
  /** Every frame the client sent, read or not: this connection's own log, gone with it. */
  private readonly log: Array<Frame.Frame> = []
  fragments: Fragments | undefined = undefined

  constructor(
    readonly request: ServerRequest,
    listener: Engine.Listener,
    readonly behaviour: Behaviour,
    toServer: Queue.Queue<Frame.Frame | typeof END>,
    ended: Deferred.Deferred<void>,
    /** Called once when the connection has ended on both ends. */
    private readonly onEnd: (connection: TestConnection) => void
  ) {
    this.listener = listener
    this.toServer = toServer
    this.ended = ended
  }

  /** Ends the server end: its reader sees the end once it has read what came before. */
  private endServer(initiator: Initiator, code: number, reason: string): void {
    if (this.endedWith !== undefined) return
    this.endedWith = { initiator, code, reason }
    this.toServer.unsafeOffer(END)
    Deferred.unsafeDone(this.ended, Exit.void)
  }

  /** Ends the transport and tells the session. */
  finish(code: number, reason: string): void {
    if (this.isEnded) return
    this.isEnded = true
    this.pending.length = 0
    this.endServer(
      code === CloseCodes.CLOSED_ABNORMALLY || this.firstClose === undefined ? "dropped" : this.firstClose,
      code,
      reason
    )
    const listener = this.listener
    this.listener = detached
    listener.onClose(code, reason)
    this.onEnd(this)
  }

  /**
   * The server drops the connection (`drop`, or the test server shuts down). What the client had received already
   * (frames waiting while it was paused) is delivered first, as from a socket's receive buffer, unless `now`.
   */
  dropFromServer(now: boolean): void {
    if (this.isEnded) return
    this.serverGone = true
    this.endServer("dropped", CloseCodes.CLOSED_ABNORMALLY, "")
    if (!now && this.paused && this.pending.length > 0) this.pending.push(DROPPED)
    else this.finish(CloseCodes.CLOSED_ABNORMALLY, "")
  }

  /** Something the client puts on the wire. */
  toPeer(frame: Frame.Frame): void {
    if (this.serverGone || this.endedWith !== undefined) return
    if (frame._tag === "Close" && this.firstClose === undefined) this.firstClose = "client"
    this.log.push(frame)
    this.toServer.unsafeOffer(frame)
  }

  // ---- server → client ------------------------------------------------------------------------------------------

  /** A frame the server puts on the wire. */
  fromServer(frame: Frame.Frame): void {
    if (this.isEnded || this.serverGone || this.serverCloseSent) return
    if (frame._tag === "Close") {
      this.serverCloseSent = true
      if (this.firstClose === undefined) this.firstClose = "server"
    }
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

  private deliver(frame: Frame.Frame | typeof DROPPED): void {
    if (this.isEnded) return
    if (frame === DROPPED) return this.finish(CloseCodes.CLOSED_ABNORMALLY, "")
    if (this.violated && frame._tag !== "Close") return
    switch (frame._tag) {
      case "Text":
      case "Binary":
        return this.deliverData(frame)
      case "Ping":
      case "Pong": {
        if (frame.data.byteLength > Frame.MAX_CONTROL_PAYLOAD) {
          return this.violation(
            "Protocol",
            CloseCodes.PROTOCOL_ERROR,
            "Invalid payload length " + frame.data.byteLength
          )
        }
        if (!frame.fin) return this.violation("Protocol", CloseCodes.PROTOCOL_ERROR, "FIN must be set")
        if (frame._tag === "Ping") this.listener.onPing(copy(frame.data))
        else this.listener.onPong(copy(frame.data))
        return
      }
      case "Close":
        return this.deliverClose(frame)
    }
  }

  /** Hands a whole message to the session, judging text as `ws` does (invalid UTF-8: 1007). */
  private message(data: string | Uint8Array): void {
    if (typeof data === "string" && !isWellFormed(data)) {
      return this.violation("Protocol", CloseCodes.NOT_CONSISTENT, "Invalid UTF-8 sequence")
    }
    this.listener.onMessage(data)
  }

  private deliverData(frame: Frame.Data): void {
    const size = sizeOf(frame.data)
    if (this.fragments === undefined) {
      if (size > this.request.maxFrameSize) {
        return this.violation("FrameTooBig", CloseCodes.TOO_BIG, "Max payload size exceeded")
      }
      if (frame.fin) return this.message(frame._tag === "Text" ? frame.data : copy(frame.data))
      this.fragments = { binary: frame._tag === "Binary", parts: [], size: 0 }
    }
    // a data frame after an unfinished one continues that message, whatever its own type
    const fragments = this.fragments
    fragments.size += size
    if (fragments.size > this.request.maxFrameSize) {
      return this.violation("FrameTooBig", CloseCodes.TOO_BIG, "Max payload size exceeded")
    }
    if (fragments.binary) fragments.parts.push(typeof frame.data === "string" ? encoder.encode(frame.data) : frame.data)
    else fragments.parts.push(Frame.readText(frame))
    if (frame.fin) {
      this.fragments = undefined
      this.message(join(fragments))
    }
  }

  private deliverClose(frame: Frame.Close): void {
    if (this.violated) return this.finish(CloseCodes.CLOSED_ABNORMALLY, "")
    const payload = frame.data
    // the checks ws makes, in its order: length, code, UTF-8 of the reason
    if (payload.byteLength === 1 || payload.byteLength > Frame.MAX_CONTROL_PAYLOAD) {
      return this.violation("Protocol", CloseCodes.PROTOCOL_ERROR, "Invalid payload length " + payload.byteLength)
    }
    const reason = Frame.decodeCloseReason(payload)
    if (Option.isSome(reason) && !isValidWireCode(reason.value.code)) {
      return this.violation("Protocol", CloseCodes.PROTOCOL_ERROR, "Invalid status code " + reason.value.code)
    }
    if (payload.byteLength > 2 && !isValidUtf8(payload.subarray(2))) {
      return this.violation("Protocol", CloseCodes.NOT_CONSISTENT, "Invalid UTF-8 sequence")
    }
    const code = Option.isSome(reason) ? reason.value.code : CloseCodes.NO_STATUS
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
        if (this.violated && this.serverCloseSent) return this.finish(CloseCodes.CLOSED_ABNORMALLY, "")
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
        this.toPeer(typeof data === "string" ? Frame.text(wellFormed(data), fin) : Frame.binary(copy(data), fin))
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
        this.finish(CloseCodes.CLOSED_ABNORMALLY, "")
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

  // ---- the server end --------------------------------------------------------------------------------------------

  /** The error of a `receive` past the end. */
  private closedError(): ConnectionClosed {
    const end = this.endedWith ?? { initiator: "dropped" as const, code: CloseCodes.CLOSED_ABNORMALLY, reason: "" }
    const url = redactUrl(this.request.url)
    const how = end.initiator === "dropped"
      ? "it was dropped without a Close (1006)"
      : `the ${end.initiator} closed it (${end.code}${end.reason === "" ? "" : ` "${end.reason}"`})`
    return new ConnectionClosed({
      message: `TestEngine connection ${url} has ended: ${how}; no more frames to receive`,
      url,
      initiator: end.initiator,
      code: end.code
    })
  }

  /** Takes the next frame, or fails once the connection has ended and every frame was read. */
  private readonly take: Effect.Effect<Frame.Frame, ConnectionClosed> = Effect.flatMap(
    Effect.suspend(() => Queue.take(this.toServer)),
    (item) =>
      item === END
        // the end stays last in the queue, for every later reader
        ? Effect.zipRight(Queue.offer(this.toServer, END), Effect.fail(this.closedError()))
        : Effect.succeed(item)
  )

  private serverEnd: ServerConnection | undefined = undefined

  /** The server end, as a test script sees it. */
  server(): ServerConnection {
    if (this.serverEnd === undefined) {
      const receive = fairly(this.take)
      this.serverEnd = {
        request: this.request,
        // one frame per pull: a reader that stops early (`Stream.take`) leaves the rest for the next reader
        incoming: Stream.repeatEffectOption(Effect.mapError(receive, () => Option.none())),
        receive,
        received: Effect.sync(() => this.log.slice()),
        send: (data) => Effect.sync(() => this.fromServer(asFrame(data))),
        close: (reason = normal) => Effect.sync(() => this.fromServer(Frame.close(reason))),
        drop: Effect.sync(() => this.dropFromServer(false)),
        closed: Deferred.await(this.ended)
      }
    }
    return this.serverEnd
  }
}

/** Opens the two ends of a connection; `onEnd` runs once it has ended. */
export const make = (
  request: ServerRequest,
  listener: Engine.Listener,
  behaviour: Behaviour,
  onEnd: (connection: TestConnection) => void
): Effect.Effect<TestConnection> =>
  Effect.map(
    Effect.zip(Queue.unbounded<Frame.Frame | typeof END>(), Deferred.make<void>()),
    ([toServer, ended]) => new TestConnection(request, listener, behaviour, toServer, ended, onEnd)
  )
