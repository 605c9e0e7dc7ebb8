/**
 * The session state machine: one place for the rules of API.md §3 (close, ping, size, violations, backpressure).
 *
 * Engine events arrive as plain callbacks and are turned into Inbox (inbox.ts) / Signal (signal.ts) completions
 * without running an Effect per message; the pinger is the only fiber a session owns.
 */
import * as Headers from "@effect/platform/Headers"
import type * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { CloseReason, normal, validateForSending } from "../CloseReason.js"
import type { WebsocketContentConverter } from "../Converter.js"
import { CloseCodes } from "../core/limits.js"
import { withoutPassword } from "../core/redact.js"
import type * as Engine from "../Engine.js"
import { WebsocketConverterNotFoundException, WebSocketException } from "../Errors.js"
import * as Frame from "../Frame.js"
import type { Call, DefaultClientWebSocketSession } from "../Session.js"
import { converterNotFound, deserializeWith } from "./deserialize.js"
import * as Inbox from "./inbox.js"
import * as Inspect from "./inspect.js"
import type { Observer } from "./observer.js"
import * as Signal from "./signal.js"

/** Settings a session runs with, resolved by the plugin. */
export interface SessionSettings {
  readonly pingInterval: Option.Option<Duration.Duration>
  readonly timeout: Duration.Duration
  readonly maxFrameSize: number
  readonly contentConverter: Option.Option<WebsocketContentConverter>
}

/** How long a closing session waits for the peer's Close before dropping the connection. */
export const CLOSE_HANDSHAKE_TIMEOUT = Duration.seconds(5)

/** The socket stops being read while this many bytes of messages wait for the consumer. */
const INCOMING_HIGH_WATER_BYTES = 1024 * 1024
/** …or this many messages, whatever their size. */
const INCOMING_HIGH_WATER_COUNT = 4096
/** `send` waits while more than this many bytes wait to be written. */
export const OUTGOING_HIGH_WATER_BYTES = 1024 * 1024

const sizeOf = (data: string | Uint8Array): number => typeof data === "string" ? data.length : data.byteLength

const pingPayload = (): Uint8Array => {
  const payload = new Uint8Array(16)
  globalThis.crypto.getRandomValues(payload)
  return payload
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

type Phase = "Open" | "Closing" | "Ended"

/** Mutable per-session state, and the engine's listener; never shared between sessions. */
class State implements Engine.Listener {
  phase: Phase = "Open"
  connection: Engine.Connection | undefined = undefined
  /** What we sent in our Close, when we started (or forced) the close. */
  sentReason: CloseReason | undefined = undefined
  /** Why incoming fails, when the session ended in error. */
  failure: WebSocketException | undefined = undefined
  /** The final close reason, once ended. */
  endReason: Option.Option<CloseReason> = Option.none()
  bufferedBytes = 0
  bufferedCount = 0
  /** Reading is paused because messages wait for a slow consumer. */
  consumerPaused = false
  /** Reading is paused because Pongs owed to the peer sit above the write high-water mark. */
  writesPaused = false
  /** Reading is paused (for either reason): what the connection was last told. */
  paused = false
  /** How many times reading was paused: the pinger sees from it that a Pong may have waited unread. */
  pauses = 0
  /** Completed when reading resumes; made only while the pinger waits for that. */
  resumed: Signal.Signal<void> | undefined = undefined
  /** The type of the fragmented message we are sending, while its last fragment is still to come. */
  openFragment: "Text" | "Binary" | undefined = undefined
  /** The scope closed: nobody reads any more, so messages still arriving are dropped rather than buffered. */
  released = false
  pendingPing: Uint8Array | undefined = undefined
  pendingPong: Deferred.Deferred<void> | undefined = undefined
  /** observability (observer.ts): spans and metrics; undefined for a session opened without the plugin */
  observer: Observer | undefined = undefined
  constructor(
    /** Messages waiting for `incoming` / `receive` (see inbox.ts for why this is not an `effect/Mailbox`). */
    readonly mailbox: Inbox.Inbox<Frame.Data, WebSocketException>,
    /** Completes `closeReason` (a Signal rather than a Deferred: see signal.ts). */
    readonly ended: Signal.Signal<Option.Option<CloseReason>>,
    readonly transportClosed: Signal.Signal<void>
  ) {}

  // the engine's callbacks: methods on the prototype rather than an object of closures per session
  onOpen(connection: Engine.Connection): void {
    this.connection = connection
  }
  onMessage(data: string | Uint8Array): void {
    if (this.observer !== undefined) this.observer.received(data) // observability
    if (this.phase === "Ended" || this.released) return
    this.mailbox.unsafeOffer(typeof data === "string" ? Frame.text(data) : Frame.binary(data))
    this.bufferedBytes += sizeOf(data)
    this.bufferedCount++
    if (
      !this.consumerPaused &&
      (this.bufferedBytes >= INCOMING_HIGH_WATER_BYTES || this.bufferedCount >= INCOMING_HIGH_WATER_COUNT)
    ) {
      this.consumerPaused = true
      updateReading(this)
    }
  }
  onPing(payload: Uint8Array): void {
    // answered here, for every engine, so that a Ping never reaches `incoming`
    const connection = this.connection
    if (this.phase !== "Open" || connection === undefined) return
    connection.pong(payload)
    // a peer that floods Pings and reads nothing would make us queue Pongs without end: the Pongs we owe count
    // against the write high-water mark, and we read no more of its Pings until they have been written
    if (!this.writesPaused && connection.bufferedAmount() >= OUTGOING_HIGH_WATER_BYTES) {
      this.writesPaused = true
      updateReading(this)
      connection.flush(() => {
        this.writesPaused = false
        updateReading(this)
      })
    }
  }
  onPong(payload: Uint8Array): void {
    if (
      this.pendingPing !== undefined && this.pendingPong !== undefined && sameBytes(payload, this.pendingPing)
    ) {
      this.pendingPing = undefined
      if (this.observer !== undefined) this.observer.pongReceived() // observability
      Deferred.unsafeDone(this.pendingPong, Exit.void)
    }
  }
  onViolation(violation: Engine.Violation, code: number, message: string): void {
    const close = new CloseReason({ code, message: "" })
    failSession(this, close, (sent) => WebSocketException.violation(violation, message, sent))
  }
  onCloseFrame(code: number, reason: string): void {
    // the peer's Close has arrived (its echo, or our Close, is on the wire): the session is over even while TCP
    // is still open, so `incoming` ends and `send` fails now rather than when the transport ends
    if (this.phase === "Ended") return
    endSession(
      this,
      Option.some(this.sentReason ?? (code === 1005 ? normal : new CloseReason({ code, message: reason }))),
      undefined
    )
  }
  onClose(code: number, reason: string): void {
    this.transportClosed.unsafeDone(undefined)
    if (this.phase === "Ended") return
    if (this.sentReason !== undefined) {
      // we started the close: the peer's answer (or its absence) changes nothing
      return endSession(this, Option.some(this.sentReason), undefined)
    }
    if (code === 1006) {
      const abnormal = new CloseReason({ code: 1006, message: "" })
      return endSession(this, Option.some(abnormal), WebSocketException.abnormalClosure(abnormal))
    }
    endSession(
      this,
      Option.some(code === 1005 ? normal : new CloseReason({ code, message: reason })),
      undefined
    )
  }
}

/** Ends the session once: completes `closeReason` and ends or fails `incoming`. */
const endSession = (state: State, reason: Option.Option<CloseReason>, failure: WebSocketException | undefined) => {
  if (state.phase === "Ended") return
  state.phase = "Ended"
  state.failure = failure
  state.endReason = reason
  if (failure === undefined) state.mailbox.unsafeDone(Exit.void)
  else state.mailbox.unsafeDone(Exit.fail(failure))
  state.ended.unsafeDone(reason)
  if (state.observer !== undefined) state.observer.end(reason, failure) // observability
  if (state.pendingPong !== undefined) Deferred.unsafeDone(state.pendingPong, Exit.void)
}

/** Sends our Close (once) and remembers its reason. */
const sendClose = (state: State, reason: CloseReason) => {
  if (state.sentReason !== undefined || state.connection === undefined) return
  state.sentReason = reason
  if (state.phase === "Open") state.phase = "Closing"
  state.connection.close(reason.code, reason.message)
}

/** Fails the session for a reason of our own (violation, ping timeout) after sending the matching Close. */
const failSession = (state: State, close: CloseReason, error: (sent: CloseReason) => WebSocketException) => {
  if (state.phase === "Ended") return
  sendClose(state, close)
  // closeReason tells what went on the wire: when our own Close had gone out before, it stays the reason
  const sent = state.sentReason ?? close
  endSession(state, Option.some(sent), error(sent))
}

/** Tells the connection to pause or resume reading when the reasons to pause have changed. */
const updateReading = (state: State) => {
  const pause = (state.consumerPaused || state.writesPaused) && !state.released
  if (pause === state.paused || state.connection === undefined) return
  state.paused = pause
  if (pause) {
    state.pauses++
    state.connection.pause()
  } else {
    state.connection.resume()
    const resumed = state.resumed
    if (resumed !== undefined) {
      state.resumed = undefined
      resumed.unsafeDone(undefined)
    }
  }
}

/** Called after the consumer took `count` messages of `bytes` total: resume reading when below the mark. */
const consumed = (state: State, count: number, bytes: number) => {
  state.bufferedCount -= count
  state.bufferedBytes -= bytes
  if (
    state.consumerPaused &&
    state.bufferedBytes < INCOMING_HIGH_WATER_BYTES / 2 && state.bufferedCount < INCOMING_HIGH_WATER_COUNT / 2
  ) {
    state.consumerPaused = false
    updateReading(state)
  }
}

const chunkBytes = (chunk: Chunk.Chunk<Frame.Data>): number => {
  // the inbox builds chunks from arrays: indexing the array avoids the Chunk iterator on the hot path
  const frames = Chunk.toReadonlyArray(chunk)
  let bytes = 0
  for (let i = 0; i < frames.length; i++) bytes += sizeOf(frames[i]!.data)
  return bytes
}

/**
 * `incoming`: one message per chunk. A consumer that stops early (`Stream.take`, `Stream.runHead`, a timeout around
 * `runForEach`) can only drop what Effect hands it in one chunk, so with one message per chunk nothing it was not
 * given is lost: the rest stays in the inbox for the next `receive` or `incoming`.
 */
const incomingStream = (state: State): Stream.Stream<Frame.Data, WebSocketException> => {
  const inbox = state.mailbox
  const loop: Channel.Channel<Chunk.Chunk<Frame.Data>, unknown, WebSocketException, unknown, void, unknown> = Channel
    .suspend(() => {
      const frame = inbox.unsafePoll()
      if (frame !== undefined) {
        consumed(state, 1, sizeOf(frame.data))
        return Channel.zipRight(Channel.write(Chunk.of(frame)), loop)
      }
      const done = inbox.done
      if (done !== undefined) {
        return Exit.isFailure(done) ? Channel.failCause(done.cause as Cause.Cause<WebSocketException>) : Channel.void
      }
      return awaitThenLoop
    })
  const awaitThenLoop = Channel.zipRight(Channel.fromEffect(inbox.await), loop)
  return Stream.fromChannel(loop)
}

/**
 * `incomingChunked`: everything queued at each pull (at most `Inbox.MAX_CHUNK` messages) as one chunk, the fast
 * form for consumers that read the stream to its end. A consumer that stops in the middle of a chunk drops the rest
 * of that chunk (as `Stream.fromQueue` does).
 */
const incomingChunkedStream = (state: State): Stream.Stream<Frame.Data, WebSocketException> => {
  const loop: Channel.Channel<Chunk.Chunk<Frame.Data>, unknown, WebSocketException, unknown, void, unknown> = Channel
    .flatMap(state.mailbox.takeAll, ([messages, done]) => {
      consumed(state, messages.length, chunkBytes(messages))
      if (done) return messages.length === 0 ? Channel.void : Channel.write(messages)
      return Channel.zipRight(Channel.write(messages), loop)
    })
  return Stream.fromChannel(loop)
}

/**
 * The pinger: the whole ping rule. Every `interval` a Ping with a fresh payload; no matching Pong within `timeout`
 * fails the session with PingTimeout. Liveness is judged on what arrives: while we ourselves have paused reading
 * (a slow consumer, Pongs we owe above the write mark) the peer's Pong may sit unread behind data, so a timeout then
 * is no verdict: the wait starts afresh once reading has resumed, and after any pause during the wait.
 */
const pinger = (state: State, interval: Duration.Duration, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    while (state.phase === "Open") {
      yield* Effect.sleep(interval)
      if (state.phase !== "Open" || state.connection === undefined) return
      const pong = yield* Deferred.make<void>()
      const payload = pingPayload()
      state.pendingPing = payload
      state.pendingPong = pong
      if (state.observer !== undefined) state.observer.pingSent() // observability
      state.connection.ping(payload)
      while (true) {
        const pauses = state.pauses
        const answered = yield* Deferred.await(pong).pipe(Effect.timeout(timeout), Effect.option)
        if (Option.isSome(answered) || state.phase !== "Open") break
        if (state.paused) {
          yield* (state.resumed ??= Signal.make<void>()).await()
          continue
        }
        if (state.pauses !== pauses) continue
        state.pendingPong = undefined
        return failSession(
          state,
          new CloseReason({ code: CloseCodes.INTERNAL_ERROR, message: "Ping timeout" }),
          (sent) => WebSocketException.pingTimeout(sent, timeout)
        )
      }
      state.pendingPong = undefined
    }
  })

/**
 * The sessions of one scope whose close handshakes are under way. Effect runs a scope's finalizers one after the
 * other, so a session that waited for the peer's Close in its own finalizer would make N sessions take N waits.
 * Instead each session's finalizer only sends its Close (at once, in the usual order), and one finalizer per scope,
 * registered before the first session's so that it runs after all of theirs, waits for all of them together: at
 * most one close-handshake wait in all.
 */
class Closing {
  pending: Array<State> = []
  /** The scope's waiting finalizer has run: a session released after it (parallel finalizers) waits on its own. */
  started = false
}

const closingOf = new WeakMap<Scope.Scope, Closing>()

/**
 * Opens a session on `engine` and ties it to the current scope. The connection is established by `connect`
 * (which receives the session's listener) so that no frame can arrive before the session exists.
 */
export const make = (
  settings: SessionSettings,
  url: URL,
  connect: (listener: Engine.Listener) => Effect.Effect<Engine.Connection, WebSocketException>,
  observer?: Observer
): Effect.Effect<DefaultClientWebSocketSession, WebSocketException, Scope.Scope> =>
  Effect.gen(function*() {
    const state = new State(
      Inbox.make<Frame.Data, WebSocketException>(),
      Signal.make<Option.Option<CloseReason>>(),
      Signal.make<void>()
    )
    state.observer = observer // observability
    const scope = yield* Effect.scope
    let closing = closingOf.get(scope)
    if (closing === undefined) {
      closing = new Closing()
      closingOf.set(scope, closing)
      yield* Scope.addFinalizer(scope, awaitClosing(closing))
    }
    const connection = yield* Effect.acquireRelease(
      // acquisition is uninterruptible by default, which would keep `connectTimeout` (and the caller's
      // interruption) from aborting a handshake that never completes; the engine cleans up an aborted attempt
      Effect.interruptible(connect(state)),
      releaser(state, closing)
    )
    state.connection = connection
    if (Option.isSome(settings.pingInterval)) {
      // the pinger stops as soon as the session ends, not when its scope closes: no timer outlives the session
      yield* pinger(state, settings.pingInterval.value, settings.timeout).pipe(
        Effect.race(state.ended.await()),
        Effect.forkIn(scope)
      )
    }
    return makeSession(state, connection, settings, url)
  })

/**
 * The session's finalizer, made outside `make` so that it keeps only `state` alive: a closure created inside `make`
 * would keep its whole scope (the `connect` function and, through it, the plugin's request) for the session's life.
 */
const releaser = (state: State, closing: Closing) => () =>
  Effect.suspend(() => {
    startClosing(state, normal)
    if (state.transportClosed.isDone) return Effect.void
    if (closing.started) return awaitClose([state])
    closing.pending.push(state)
    return Effect.void
  })

/** Closes with `reason` unless closed already, and reads on so that the peer's Close can arrive. */
const startClosing = (state: State, reason: CloseReason) => {
  if (state.phase === "Open") sendClose(state, reason)
  // a paused reader would never see the peer's Close: read on, dropping what nobody will consume
  state.released = true
  updateReading(state)
}

/** Drops the transport of a session whose peer did not answer our Close in time (or that we stopped waiting for). */
const dropTransport = (state: State) => {
  if (state.transportClosed.isDone) return
  state.connection?.terminate()
  // the engine reports the end of the transport; if it does not, the session ends here all the same
  endSession(state, Option.fromNullable(state.sentReason), undefined)
}

/**
 * Waits (at most `CLOSE_HANDSHAKE_TIMEOUT` in all) for the peer's Close on every session of the scope, then drops
 * the transports still open. Interrupting the wait (a timeout around `webSocket`) drops them at once.
 */
const awaitClosing = (closing: Closing) =>
  Effect.suspend(() => {
    const states = closing.pending
    closing.pending = []
    closing.started = true
    return awaitClose(states)
  })

/** Waits for the peer's Close on each of `states` together, then drops the transports still open. */
const awaitClose = (states: ReadonlyArray<State>) =>
  Effect.suspend(() => {
    const waiting: Array<State> = []
    for (const state of states) {
      // after a ping timeout the peer is presumed gone: do not wait for it
      if (state.failure?.reason === "PingTimeout") dropTransport(state)
      else if (!state.transportClosed.isDone) waiting.push(state)
    }
    // a reader woken by the end of its session runs before the scope's owner goes on (and interrupts it)
    if (waiting.length === 0) return Effect.yieldNow()
    const closed = waiting.length === 1
      ? waiting[0]!.transportClosed.await()
      : Effect.forEach(waiting, (state) => state.transportClosed.await(), { concurrency: "unbounded", discard: true })
    // finalizers are uninterruptible: without `interruptible` neither the timeout nor the caller could cut the wait
    return closed.pipe(
      Effect.interruptible,
      Effect.timeoutOption(CLOSE_HANDSHAKE_TIMEOUT),
      Effect.ensuring(Effect.sync(() => waiting.forEach(dropTransport))),
      Effect.zipRight(Effect.yieldNow())
    )
  })

/** Sends Close(`reason`) if the session is still open; `webSocket` uses it to tell the peer how its block ended. */
export const closeWith = (session: DefaultClientWebSocketSession, reason: CloseReason): void => {
  const state = (session as SessionImpl)[stateKey]
  if (state.phase === "Open") sendClose(state, reason)
}

const stateKey = Symbol.for("effect-websockets/Session/state")

const notOpen = (state: State) =>
  WebSocketException.closed(state.phase === "Ended" ? state.endReason : Option.fromNullable(state.sentReason))

const protocolMisuse = (message: string) => Effect.fail(WebSocketException.protocol(message))

/** Writes one outgoing item; returns an Effect only when the caller has to wait (or fail). */
const write = (
  session: SessionImpl,
  item: string | Uint8Array | Frame.Frame
): Effect.Effect<void, WebSocketException> | undefined => {
  const state = session[stateKey]
  if (state.phase !== "Open") return Effect.fail(notOpen(state))
  const connection = session.connection
  let data: string | Uint8Array
  let fin = true
  if (typeof item === "string" || item instanceof Uint8Array) {
    data = item
    if (state.openFragment !== undefined) return fragmentMisuse(state, "a whole message")
  } else {
    switch (item._tag) {
      case "Text":
      case "Binary":
        data = item.data
        fin = item.fin
        // the frames of a fragmented message all carry its type; the engine would send another type as a
        // continuation of the open message, so the misuse is refused here and nothing is written
        if (state.openFragment !== undefined) {
          if (state.openFragment !== item._tag) return fragmentMisuse(state, `a ${item._tag} frame`)
          if (fin) state.openFragment = undefined
        } else if (!fin) {
          state.openFragment = item._tag
        }
        break
      case "Ping":
      case "Pong": {
        if (item.data.byteLength > Frame.MAX_CONTROL_PAYLOAD) {
          return protocolMisuse(
            `A ${item._tag} payload may hold at most ${Frame.MAX_CONTROL_PAYLOAD} bytes, got ${item.data.byteLength}`
          )
        }
        if (connection.controlFrames === false) {
          return Effect.fail(
            WebSocketException.capability(`send(Frame.${item._tag.toLowerCase()})`, "it lacks PingCapability")
          )
        }
        if (item._tag === "Ping") connection.ping(item.data)
        else connection.pong(item.data)
        return undefined
      }
      case "Close": {
        const invalid = Frame.validateClosePayload(item.data)
        if (invalid !== undefined) {
          return Effect.fail(WebSocketException.invalidCloseCode(invalid))
        }
        return closeNow(state, Option.getOrElse(Frame.readReason(item), () => normal))
      }
    }
  }
  if (state.observer !== undefined) state.observer.sent(data, fin) // observability
  if (connection.bufferedAmount() < OUTGOING_HIGH_WATER_BYTES) {
    connection.send(data, fin)
    return undefined
  }
  // above the high-water mark: this frame is queued and the caller waits until it has been written
  return Effect.async<void, WebSocketException>((resume) => {
    connection.send(data, fin, (error) => resume(error === undefined ? Effect.void : Effect.fail(notOpen(state))))
  })
}

const fragmentMisuse = (state: State, what: string) =>
  protocolMisuse(`A fragmented ${state.openFragment} message is open: ${what} may not be sent until its last fragment`)

const closeNow = (state: State, reason: CloseReason): Effect.Effect<void, WebSocketException> => {
  const invalid = validateForSending(reason)
  if (invalid !== undefined) {
    return Effect.fail(WebSocketException.invalidCloseCode(invalid))
  }
  if (state.phase === "Open") sendClose(state, reason)
  return Effect.void
}

type Outgoing = string | Uint8Array | Frame.Frame

/**
 * The session. Only what every session needs is built when it opens (the state, the connection, the settings, the
 * url); everything else (`incoming`, `outgoing`, `receive`, `send`, …) is built on first access by a getter on the
 * prototype and cached, so that an idle session costs little memory. The members stay read-only for the user, and
 * the functions (`send`, `close`, …) are closures over the session, so they work when destructured.
 */
class SessionImpl implements DefaultClientWebSocketSession {
  // engine objects, the state and the url (which may hold a password) are non-enumerable: see inspect.ts
  declare readonly [stateKey]: State
  declare readonly connection: Engine.Connection
  declare private readonly settings: SessionSettings
  declare private readonly url: URL
  private _call: Call | undefined = undefined
  private _incoming: Stream.Stream<Frame.Data, WebSocketException> | undefined = undefined
  private _incomingChunked: Stream.Stream<Frame.Data, WebSocketException> | undefined = undefined
  private _outgoing: Sink.Sink<void, Outgoing, never, WebSocketException> | undefined = undefined
  private _send: ((item: Outgoing) => Effect.Effect<void, WebSocketException>) | undefined = undefined
  private _receive: Effect.Effect<Frame.Data, WebSocketException> | undefined = undefined
  private _flush: Effect.Effect<void, WebSocketException> | undefined = undefined
  private _close: ((reason?: CloseReason) => Effect.Effect<void, WebSocketException>) | undefined = undefined
  private _closeReason: Effect.Effect<Option.Option<CloseReason>> | undefined = undefined
  private _sendSerialized: DefaultClientWebSocketSession["sendSerialized"] | undefined = undefined
  private _receiveDeserialized: DefaultClientWebSocketSession["receiveDeserialized"] | undefined = undefined

  constructor(state: State, connection: Engine.Connection, settings: SessionSettings, url: URL) {
    Inspect.hidden(this, stateKey, state)
    Inspect.hidden(this, "connection", connection)
    Inspect.hidden(this, "settings", settings)
    Inspect.hidden(this, "url", url)
  }

  toJSON(): unknown {
    const handshake = this.connection.handshake
    return Inspect.sessionJson({
      url: this.url,
      phase: this[stateKey].phase,
      protocol: handshake.protocol,
      extensions: handshake.extensions
    })
  }
  toString(): string {
    return Inspectable.format(this.toJSON())
  }
  [Inspectable.NodeInspectSymbol](): unknown {
    return this.toJSON()
  }

  get call(): Call {
    if (this._call === undefined) {
      const handshake = this.connection.handshake
      this._call = {
        url: withoutPassword(this.url),
        status: handshake.status,
        headers: Headers.fromInput(handshake.headers),
        protocol: handshake.protocol,
        extensions: handshake.extensions
      }
    }
    return this._call
  }

  get incoming(): Stream.Stream<Frame.Data, WebSocketException> {
    return this._incoming ??= incomingStream(this[stateKey])
  }

  get incomingChunked(): Stream.Stream<Frame.Data, WebSocketException> {
    return this._incomingChunked ??= incomingChunkedStream(this[stateKey])
  }

  get outgoing(): Sink.Sink<void, Outgoing, never, WebSocketException> {
    if (this._outgoing === undefined) {
      const send = this.send
      this._outgoing = Sink.forEachChunk((chunk: Chunk.Chunk<Outgoing>) => {
        const items = Chunk.toReadonlyArray(chunk)
        for (let i = 0; i < items.length; i++) {
          const wait = write(this, items[i]!)
          if (wait !== undefined) {
            // slow path: finish this item, then the rest of the chunk one by one
            return Effect.zipRight(wait, Effect.forEach(items.slice(i + 1), send, { discard: true }))
          }
        }
        return Effect.void
      })
    }
    return this._outgoing
  }

  get send(): (item: Outgoing) => Effect.Effect<void, WebSocketException> {
    return this._send ??= (item) => Effect.suspend(() => write(this, item) ?? Effect.void)
  }

  get receive(): Effect.Effect<Frame.Data, WebSocketException> {
    if (this._receive === undefined) {
      const state = this[stateKey]
      // one suspend per call on the hot path: a queued message is taken at once; once the inbox has ended and is
      // empty, `receive` fails with the session's failure, or with Closed after a clean close
      const receive: Effect.Effect<Frame.Data, WebSocketException> = Effect.suspend(() => {
        const frame = state.mailbox.unsafePoll()
        if (frame !== undefined) {
          consumed(state, 1, sizeOf(frame.data))
          return Exit.succeed(frame)
        }
        const done = state.mailbox.done
        if (done !== undefined) {
          return Exit.isFailure(done) ? (done as Exit.Exit<never, WebSocketException>) : Effect.fail(notOpen(state))
        }
        return awaitThenReceive
      })
      const awaitThenReceive = Effect.zipRight(state.mailbox.await, receive)
      this._receive = receive
    }
    return this._receive
  }

  get flush(): Effect.Effect<void, WebSocketException> {
    return this._flush ??= Effect.suspend(() =>
      this[stateKey].phase === "Ended"
        ? Effect.fail(notOpen(this[stateKey]))
        : Effect.async<void>((resume) => {
          // the engine calls back on an event (its transport drained, or ended); an interrupted flush unregisters
          const cancel = this.connection.flush(() => resume(Effect.void))
          return cancel === undefined ? undefined : Effect.sync(cancel)
        })
    )
  }

  get close(): (reason?: CloseReason) => Effect.Effect<void, WebSocketException> {
    return this._close ??= (reason = normal) => Effect.suspend(() => closeNow(this[stateKey], reason))
  }

  get closeReason(): Effect.Effect<Option.Option<CloseReason>> {
    return this._closeReason ??= this[stateKey].ended.await()
  }

  get sendSerialized(): DefaultClientWebSocketSession["sendSerialized"] {
    if (this._sendSerialized === undefined) {
      // resolved once per session: no Option.match (and its two closures) per message
      const converter = Option.getOrUndefined(this.settings.contentConverter)
      /** `send` for an Effect that is already running: no second suspend. */
      const sendNow = (item: Frame.Frame) => write(this, item) ?? Effect.void
      this._sendSerialized = converter === undefined
        ? () => converterNotFound
        : (schema, value) => Effect.flatMap(converter.serialize(schema, value), sendNow)
    }
    return this._sendSerialized
  }

  get receiveDeserialized(): DefaultClientWebSocketSession["receiveDeserialized"] {
    if (this._receiveDeserialized === undefined) {
      const converter = Option.getOrUndefined(this.settings.contentConverter)
      const receive = this.receive
      this._receiveDeserialized = converter === undefined
        ? () => converterNotFound
        : (schema) => Effect.flatMap(receive, deserializeWith(converter, schema))
    }
    return this._receiveDeserialized
  }

  get incomingDeserialized(): DefaultClientWebSocketSession["incomingDeserialized"] {
    // `incoming` decoded message by message with the converter's own rules (as `receiveDeserialized`)
    const converter = Option.getOrUndefined(this.settings.contentConverter)
    if (converter === undefined) return () => Stream.fail(new WebsocketConverterNotFoundException())
    const incoming = this.incoming
    return (schema) => Stream.mapEffect(incoming, deserializeWith(converter, schema))
  }

  get converter(): Option.Option<WebsocketContentConverter> {
    return this.settings.contentConverter
  }
  get pingInterval(): Option.Option<Duration.Duration> {
    return this.settings.pingInterval
  }
  get timeout(): Duration.Duration {
    return this.settings.timeout
  }
  get maxFrameSize(): number {
    return this.settings.maxFrameSize
  }
}

const makeSession = (
  state: State,
  connection: Engine.Connection,
  settings: SessionSettings,
  url: URL
): SessionImpl => new SessionImpl(state, connection, settings, url)
