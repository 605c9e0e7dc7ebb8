/**
 * The session state machine: one place for the rules of API.md §3 (close, ping, size, violations, backpressure).
 *
 * Engine events arrive as plain callbacks and are turned into Inbox (inbox.ts) / Signal (signal.ts) completions
 * without running an Effect per message; the pinger is the only fiber a session owns.
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Headers from "@effect/platform/Headers"
import { CloseReason, normal, validateForSending } from "../CloseReason.js"
import type { WebsocketContentConverter } from "../Converter.js"
import type * as Engine from "../Engine.js"
import { WebsocketConverterNotFoundException, WebsocketDeserializeException, WebSocketException } from "../Errors.js"
import * as Frame from "../Frame.js"
import type { Call, DefaultClientWebSocketSession } from "../Session.js"
import * as Inbox from "./inbox.js"
import * as Inspect from "./inspect.js"
import { withoutPassword } from "./redact.js"
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

const closedError = (reason: Option.Option<CloseReason>) =>
  new WebSocketException({
    reason: "Closed",
    message: Option.match(reason, {
      onNone: () => "The WebSocket session is closed",
      onSome: (r) => `The WebSocket session is closed: ${r.toString()}`
    }),
    closeReason: Option.getOrUndefined(reason)
  })

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
  paused = false
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
    const state = this
    state.connection = connection
  }
  onMessage(data: string | Uint8Array): void {
    const state = this
    if (state.observer !== undefined) state.observer.received(data) // observability
    if (state.phase === "Ended" || state.released) return
    state.mailbox.unsafeOffer(typeof data === "string" ? Frame.text(data) : Frame.binary(data))
    state.bufferedBytes += sizeOf(data)
    state.bufferedCount++
    if (
      !state.paused && state.connection !== undefined &&
      (state.bufferedBytes >= INCOMING_HIGH_WATER_BYTES || state.bufferedCount >= INCOMING_HIGH_WATER_COUNT)
    ) {
      state.paused = true
      state.connection.pause()
    }
  }
  onPing(payload: Uint8Array): void {
    const state = this
    // answered here, for every engine, so that a Ping never reaches `incoming`
    if (state.phase === "Open" && state.connection !== undefined) state.connection.pong(payload)
  }
  onPong(payload: Uint8Array): void {
    const state = this
    if (
      state.pendingPing !== undefined && state.pendingPong !== undefined && sameBytes(payload, state.pendingPing)
    ) {
      state.pendingPing = undefined
      if (state.observer !== undefined) state.observer.pongReceived() // observability
      Deferred.unsafeDone(state.pendingPong, Exit.void)
    }
  }
  onViolation(violation: Engine.Violation, code: number, message: string): void {
    const state = this
    failSession(
      state,
      violation,
      new CloseReason({ code, message: "" }),
      violation === "FrameTooBig" ? `Frame is too big: ${message}` : `Protocol violation by the peer: ${message}`
    )
  }
  onClose(code: number, reason: string): void {
    const state = this
    state.transportClosed.unsafeDone(undefined)
    if (state.phase === "Ended") return
    if (state.sentReason !== undefined) {
      // we started the close: the peer's answer (or its absence) changes nothing
      return endSession(state, Option.some(state.sentReason), undefined)
    }
    if (code === 1006) {
      const abnormal = new CloseReason({ code: 1006, message: "" })
      return endSession(
        state,
        Option.some(abnormal),
        new WebSocketException({
          reason: "Closed",
          message: "The connection was closed abnormally, without a Close frame",
          closeReason: abnormal
        })
      )
    }
    endSession(
      state,
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
const failSession = (
  state: State,
  reason: "PingTimeout" | Engine.Violation,
  close: CloseReason,
  message: string
) => {
  if (state.phase === "Ended") return
  sendClose(state, close)
  endSession(
    state,
    Option.some(close),
    new WebSocketException({ reason, message, closeReason: close })
  )
}

/** Called after the consumer took `count` messages of `bytes` total: resume reading when below the mark. */
const consumed = (state: State, count: number, bytes: number) => {
  state.bufferedCount -= count
  state.bufferedBytes -= bytes
  if (
    state.paused && state.connection !== undefined &&
    state.bufferedBytes < INCOMING_HIGH_WATER_BYTES / 2 && state.bufferedCount < INCOMING_HIGH_WATER_COUNT / 2
  ) {
    state.paused = false
    state.connection.resume()
  }
}

const chunkBytes = (chunk: Chunk.Chunk<Frame.Data>): number => {
  // the inbox builds chunks from arrays: indexing the array avoids the Chunk iterator on the hot path
  const frames = Chunk.toReadonlyArray(chunk)
  let bytes = 0
  for (let i = 0; i < frames.length; i++) bytes += sizeOf(frames[i]!.data)
  return bytes
}

const incomingStream = (state: State): Stream.Stream<Frame.Data, WebSocketException> => {
  const loop: Channel.Channel<Chunk.Chunk<Frame.Data>, unknown, WebSocketException, unknown, void, unknown> =
    Channel.flatMap(state.mailbox.takeAll, ([messages, done]) => {
      consumed(state, messages.length, chunkBytes(messages))
      if (done) return messages.length === 0 ? Channel.void : Channel.write(messages)
      return Channel.zipRight(Channel.write(messages), loop)
    })
  return Stream.fromChannel(loop)
}

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
      const answered = yield* Deferred.await(pong).pipe(Effect.timeout(timeout), Effect.option)
      state.pendingPong = undefined
      if (Option.isNone(answered)) {
        return failSession(
          state,
          "PingTimeout",
          new CloseReason({ code: 1011, message: "Ping timeout" }),
          `No Pong within ${Duration.format(timeout)}`
        )
      }
    }
  })

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
    const connection = yield* Effect.acquireRelease(
      // acquisition is uninterruptible by default, which would keep `connectTimeout` (and the caller's
      // interruption) from aborting a handshake that never completes; the engine cleans up an aborted attempt
      Effect.interruptible(connect(state)),
      releaser(state)
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
const releaser = (state: State) => (connection: Engine.Connection) => release(state, connection, normal)

/** Closes with `reason` unless closed already, waits for the peer's Close, then makes sure the transport is gone. */
const release = (state: State, connection: Engine.Connection, reason: CloseReason) =>
  Effect.gen(function*() {
    if (state.phase === "Open") sendClose(state, reason)
    // a paused reader would never see the peer's Close: read on, dropping what nobody will consume
    state.released = true
    if (state.paused) {
      state.paused = false
      connection.resume()
    }
    // after a ping timeout the peer is presumed gone: do not wait for it
    const wait = state.failure?.reason === "PingTimeout" ? Duration.zero : CLOSE_HANDSHAKE_TIMEOUT
    // finalizers are uninterruptible: without `interruptible` the timeout could not stop the wait
    const closed = yield* state.transportClosed.await().pipe(Effect.interruptible, Effect.timeoutOption(wait))
    if (Option.isNone(closed)) {
      connection.terminate()
      // the engine reports the end of the transport; if it does not, the session ends here all the same
      endSession(state, Option.fromNullable(state.sentReason), undefined)
    }
  })

/** Sends Close(`reason`) if the session is still open; `webSocket` uses it to tell the peer how its block ended. */
export const closeWith = (session: DefaultClientWebSocketSession, reason: CloseReason): void => {
  const state = (session as SessionImpl)[stateKey]
  if (state.phase === "Open") sendClose(state, reason)
}

const stateKey = Symbol.for("effect-websockets/Session/state")

/** Shared by all sessions (a fresh error per failure): no error object, with its stack, kept per session. */
const converterNotFound = Effect.failSync(() => new WebsocketConverterNotFoundException())

const notOpen = (state: State) =>
  closedError(state.phase === "Ended" ? state.endReason : Option.fromNullable(state.sentReason))

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
  } else {
    switch (item._tag) {
      case "Text":
      case "Binary":
        data = item.data
        fin = item.fin
        break
      case "Ping":
      case "Pong": {
        if (item.data.byteLength > Frame.MAX_CONTROL_PAYLOAD) {
          return Effect.dieMessage(`A ${item._tag} payload may hold at most ${Frame.MAX_CONTROL_PAYLOAD} bytes`)
        }
        if (connection.controlFrames === false) {
          return Effect.fail(
            new WebSocketException({
              reason: "Capability",
              message: `The engine cannot send a ${item._tag} frame: it lacks PingCapability`
            })
          )
        }
        if (item._tag === "Ping") connection.ping(item.data)
        else connection.pong(item.data)
        return undefined
      }
      case "Close":
        return closeNow(state, Option.getOrElse(Frame.readReason(item), () => normal))
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

const closeNow = (state: State, reason: CloseReason): Effect.Effect<void, WebSocketException> => {
  const invalid = validateForSending(reason)
  if (invalid !== undefined) {
    return Effect.fail(new WebSocketException({ reason: "InvalidCloseCode", message: invalid }))
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
        : Effect.async<void>((resume) => this.connection.flush(() => resume(Effect.void)))
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
        : (schema) =>
          Effect.flatMap(receive, (frame) =>
            converter.isApplicable(frame)
              ? converter.deserialize(schema, frame)
              : Effect.fail(
                new WebsocketDeserializeException({
                  message: `The content converter cannot read a ${frame._tag} frame`,
                  frame
                })
              ))
    }
    return this._receiveDeserialized
  }

  get incomingDeserialized(): DefaultClientWebSocketSession["incomingDeserialized"] {
    // `incoming` decoded message by message with the converter's own rules (as `receiveDeserialized`)
    const converter = Option.getOrUndefined(this.settings.contentConverter)
    if (converter === undefined) return () => Stream.fail(new WebsocketConverterNotFoundException())
    const incoming = this.incoming
    return (schema) =>
      Stream.mapEffect(incoming, (frame) =>
        converter.isApplicable(frame)
          ? converter.deserialize(schema, frame)
          : Effect.fail(
            new WebsocketDeserializeException({
              message: `The content converter cannot read a ${frame._tag} frame`,
              frame
            })
          ))
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
