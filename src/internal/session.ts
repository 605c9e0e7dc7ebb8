/**
 * The session object users hold: its members (`incoming`, `receive`, `send`, `outgoing`, `close`, `closeReason`,
 * the serialization members, the settings) over the protocol core. The rules themselves live elsewhere, one place
 * each: the state machine, backpressure and ping matching in src/core/session.ts (bound to Effect in
 * sessionState.ts), the pinger and what a ping timeout does in pinger.ts, closing with the scope and the close
 * handshake wait in closing.ts.
 *
 * Engine events reach the core as plain callbacks and complete waiters without running an Effect per message; the
 * pinger is the only fiber a session owns.
 */
import * as Headers from "@effect/platform/Headers"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { type CloseReason, normal } from "../CloseReason.js"
import type { WebsocketContentConverter } from "../Converter.js"
import { withoutPassword } from "../core/redact.js"
import * as Core from "../core/session.js"
import type * as Engine from "../Engine.js"
import { WebsocketConverterNotFoundException, type WebSocketException } from "../Errors.js"
import type * as Frame from "../Frame.js"
import type { Call, DefaultClientWebSocketSession } from "../Session.js"
import { closingFor, releaser } from "./closing.js"
import { converterNotFound, deserializeWith } from "./deserialize.js"
import * as Inspect from "./inspect.js"
import type { Observer } from "./observer.js"
import { pinger } from "./pinger.js"
import { awaitEnd, awaitMessage, State } from "./sessionState.js"

/** Settings a session runs with, resolved by the plugin. */
export interface SessionSettings {
  readonly pingInterval: Option.Option<Duration.Duration>
  readonly timeout: Duration.Duration
  readonly maxFrameSize: number
  readonly contentConverter: Option.Option<WebsocketContentConverter>
}

/**
 * The most messages `incomingChunked` hands over at once. Stream operators such as `Stream.runFold` recurse once
 * per element of a chunk (effect 3.x `foldChunkSplit`) and overflow the stack at a few thousand elements, so chunks
 * stay well below that.
 */
export const MAX_CHUNK = 1024

/**
 * `incoming`: one message per chunk. A consumer that stops early (`Stream.take`, `Stream.runHead`, a timeout around
 * `runForEach`) can only drop what Effect hands it in one chunk, so with one message per chunk nothing it was not
 * given is lost: the rest stays queued for the next `receive` or `incoming`.
 */
const incomingStream = (state: State, wait: Effect.Effect<void>): Stream.Stream<Frame.Data, WebSocketException> => {
  const loop: Channel.Channel<Chunk.Chunk<Frame.Data>, unknown, WebSocketException, unknown, void, unknown> = Channel
    .suspend(() => {
      const frame = state.poll()
      if (frame !== undefined) return Channel.zipRight(Channel.write(Chunk.of(frame)), loop)
      const done = state.queueEnd
      if (done !== undefined) return Exit.isFailure(done) ? Channel.failCause(done.cause) : Channel.void
      return awaitThenLoop
    })
  const awaitThenLoop = Channel.zipRight(Channel.fromEffect(wait), loop)
  return Stream.fromChannel(loop)
}

/**
 * `incomingChunked`: everything queued at each pull (at most `MAX_CHUNK` messages) as one chunk, the fast form for
 * consumers that read the stream to its end. A consumer that stops in the middle of a chunk drops the rest of that
 * chunk (as `Stream.fromQueue` does). After a failure the queued messages come first, then the failure.
 */
const incomingChunkedStream = (
  state: State,
  wait: Effect.Effect<void>
): Stream.Stream<Frame.Data, WebSocketException> => {
  const loop: Channel.Channel<Chunk.Chunk<Frame.Data>, unknown, WebSocketException, unknown, void, unknown> = Channel
    .suspend(() => {
      const messages = state.takeAll(MAX_CHUNK)
      const done = state.queueEnd
      if (messages.length > 0) {
        const chunk = Chunk.unsafeFromArray(messages)
        return done !== undefined && Exit.isSuccess(done) && state.queued === 0
          ? Channel.write(chunk)
          : Channel.zipRight(Channel.write(chunk), loop)
      }
      if (done !== undefined) return Exit.isFailure(done) ? Channel.failCause(done.cause) : Channel.void
      return awaitThenLoop
    })
  const awaitThenLoop = Channel.zipRight(Channel.fromEffect(wait), loop)
  return Stream.fromChannel(loop)
}

/**
 * Opens a session and ties it to the current scope. The connection is established by `connect` (which receives the
 * session's listener) so that no frame can arrive before the session exists.
 */
export const make = (
  settings: SessionSettings,
  url: URL,
  connect: (listener: Engine.Listener) => Effect.Effect<Engine.Connection, WebSocketException>,
  observer?: Observer
): Effect.Effect<DefaultClientWebSocketSession, WebSocketException, Scope.Scope> =>
  Effect.gen(function*() {
    const state = new State(settings.timeout)
    state.observer = observer // observability
    const scope = yield* Effect.scope
    const closing = yield* closingFor(scope)
    // `Effect.acquireRelease` without its cost: it would keep the acquiring fiber's FiberRefs (and two closures) for
    // the session's life, about 0.2 KiB of every idle session, for a finalizer that needs none of them. As there,
    // the finalizer is registered in the same uninterruptible region as the connection is made; the handshake itself
    // stays interruptible, so that `connectTimeout` (and the caller's interruption) can abort one that never
    // completes (the engine cleans up an aborted attempt). An interruption that lands after the engine opened the
    // connection (`onOpen`) but before the fiber took it would drop the connection unowned: it is dropped here
    const connection = yield* Effect.uninterruptible(
      Effect.tap(
        Effect.onError(Effect.interruptible(connect(state)), () => Effect.sync(() => state.transport?.terminate())),
        () => Scope.addFinalizerExit(scope, releaser(state, closing))
      )
    )
    state.transport = connection
    if (Option.isSome(settings.pingInterval)) {
      // the pinger stops as soon as the session ends, not when its scope closes: no timer outlives the session
      yield* pinger(state, settings.pingInterval.value, settings.timeout).pipe(
        Effect.race(awaitEnd(state)),
        Effect.forkIn(scope)
      )
    }
    return new SessionImpl(state, settings, url)
  })

/** Sends Close(`reason`) if the session is still open; `webSocket` uses it to tell the peer how its block ended. */
export const closeWith = (session: DefaultClientWebSocketSession, reason: CloseReason): void => {
  ;(session as SessionImpl)[stateKey].closeWith(reason)
}

const stateKey = Symbol.for("effect-websockets/Session/state")

type Outgoing = string | Uint8Array | Frame.Frame

/**
 * Writes one outgoing item; returns an Effect only when the caller has to wait (or fail). Above the write
 * high-water mark the item is queued and the caller waits until it has been written.
 */
const write = (state: State, item: Outgoing): Effect.Effect<void, WebSocketException> | undefined => {
  const result = state.write(item)
  if (result === Core.SENT) return undefined
  if (result === Core.WAIT) {
    return Effect.async<void, WebSocketException>((resume) => {
      state.sendWaiting(item, (error) => resume(error === undefined ? Effect.void : Effect.fail(state.notOpen())))
    })
  }
  return Effect.fail(state.writeError(result))
}

/** The members built on first use (see `SessionImpl`). */
class Members {
  call: Call | undefined = undefined
  incoming: Stream.Stream<Frame.Data, WebSocketException> | undefined = undefined
  incomingChunked: Stream.Stream<Frame.Data, WebSocketException> | undefined = undefined
  outgoing: Sink.Sink<void, Outgoing, never, WebSocketException> | undefined = undefined
  send: ((item: Outgoing) => Effect.Effect<void, WebSocketException>) | undefined = undefined
  receive: Effect.Effect<Frame.Data, WebSocketException> | undefined = undefined
  flush: Effect.Effect<void, WebSocketException> | undefined = undefined
  close: ((reason?: CloseReason) => Effect.Effect<void, WebSocketException>) | undefined = undefined
  closeReason: Effect.Effect<Option.Option<CloseReason>> | undefined = undefined
  sendSerialized: DefaultClientWebSocketSession["sendSerialized"] | undefined = undefined
  receiveDeserialized: DefaultClientWebSocketSession["receiveDeserialized"] | undefined = undefined
  /** Waits for a message or the end: shared by `receive`, `incoming` and `incomingChunked`. */
  awaitMessage: Effect.Effect<void> | undefined = undefined
}

/**
 * The session. Only what every session needs is kept when it opens (the state, the settings, the url); everything
 * else (`incoming`, `outgoing`, `receive`, `send`, …) is built on first access by a getter on the prototype and
 * cached in one `Members` object made at the first access, so that an idle session costs little memory. The members
 * stay read-only for the user, and the functions (`send`, `close`, …) are closures over the session, so they work
 * when destructured.
 */
class SessionImpl implements DefaultClientWebSocketSession {
  // the state, the settings, the url (which may hold a password) and the cache are non-enumerable: see inspect.ts
  declare readonly [stateKey]: State
  declare private readonly settings: SessionSettings
  declare private readonly url: URL
  declare private members: Members | undefined

  constructor(state: State, settings: SessionSettings, url: URL) {
    Inspect.hidden(this, stateKey, state)
    Inspect.hidden(this, "settings", settings)
    Inspect.hidden(this, "url", url)
    Inspect.hidden(this, "members", undefined)
  }

  /** The engine's connection (non-enumerable: a getter on the prototype). */
  get connection(): Engine.Connection {
    return this[stateKey].transport!
  }

  private get cache(): Members {
    return this.members ??= new Members()
  }

  private get awaitMessage(): Effect.Effect<void> {
    const cache = this.cache
    return cache.awaitMessage ??= awaitMessage(this[stateKey])
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
    const cache = this.cache
    if (cache.call === undefined) {
      const handshake = this.connection.handshake
      cache.call = {
        url: withoutPassword(this.url),
        status: handshake.status,
        headers: Headers.fromInput(handshake.headers),
        protocol: handshake.protocol,
        extensions: handshake.extensions
      }
    }
    return cache.call
  }

  get incoming(): Stream.Stream<Frame.Data, WebSocketException> {
    return this.cache.incoming ??= incomingStream(this[stateKey], this.awaitMessage)
  }

  get incomingChunked(): Stream.Stream<Frame.Data, WebSocketException> {
    return this.cache.incomingChunked ??= incomingChunkedStream(this[stateKey], this.awaitMessage)
  }

  get outgoing(): Sink.Sink<void, Outgoing, never, WebSocketException> {
    const cache = this.cache
    if (cache.outgoing === undefined) {
      const send = this.send
      const state = this[stateKey]
      cache.outgoing = Sink.forEachChunk((chunk: Chunk.Chunk<Outgoing>) => {
        const items = Chunk.toReadonlyArray(chunk)
        for (let i = 0; i < items.length; i++) {
          const wait = write(state, items[i]!)
          if (wait !== undefined) {
            // slow path: finish this item, then the rest of the chunk one by one
            return Effect.zipRight(wait, Effect.forEach(items.slice(i + 1), send, { discard: true }))
          }
        }
        return Effect.void
      })
    }
    return cache.outgoing
  }

  get send(): (item: Outgoing) => Effect.Effect<void, WebSocketException> {
    const cache = this.cache
    if (cache.send === undefined) {
      const state = this[stateKey]
      cache.send = (item) => Effect.suspend(() => write(state, item) ?? Effect.void)
    }
    return cache.send
  }

  get receive(): Effect.Effect<Frame.Data, WebSocketException> {
    const cache = this.cache
    if (cache.receive === undefined) {
      const state = this[stateKey]
      // one suspend per call on the hot path: a queued message is taken at once, without suspending the fiber;
      // once the session has ended and nothing is queued, `receive` fails with the session's failure, or with
      // Closed after a clean close
      const receive: Effect.Effect<Frame.Data, WebSocketException> = Effect.suspend(() => {
        const frame = state.poll()
        if (frame !== undefined) return Exit.succeed(frame)
        if (state.phase === "Ended") return Exit.fail(state.error ?? state.notOpen())
        return awaitThenReceive
      })
      const awaitThenReceive = Effect.zipRight(this.awaitMessage, receive)
      cache.receive = receive
    }
    return cache.receive
  }

  get flush(): Effect.Effect<void, WebSocketException> {
    const cache = this.cache
    if (cache.flush === undefined) {
      const state = this[stateKey]
      cache.flush = Effect.suspend(() =>
        state.phase === "Ended"
          ? Effect.fail(state.notOpen())
          : Effect.async<void>((resume) => {
            // the engine calls back on an event (its transport drained, or ended); an interrupted flush unregisters
            const cancel = state.transport!.flush(() => resume(Effect.void))
            return cancel === undefined ? undefined : Effect.sync(cancel)
          })
      )
    }
    return cache.flush
  }

  get close(): (reason?: CloseReason) => Effect.Effect<void, WebSocketException> {
    const cache = this.cache
    if (cache.close === undefined) {
      const state = this[stateKey]
      cache.close = (reason = normal) =>
        Effect.suspend(() => {
          const refused = state.close(reason)
          return refused === undefined ? Effect.void : Effect.fail(state.writeError(refused))
        })
    }
    return cache.close
  }

  get closeReason(): Effect.Effect<Option.Option<CloseReason>> {
    return this.cache.closeReason ??= awaitEnd(this[stateKey])
  }

  get sendSerialized(): DefaultClientWebSocketSession["sendSerialized"] {
    const cache = this.cache
    if (cache.sendSerialized === undefined) {
      // resolved once per session: no Option.match (and its two closures) per message
      const converter = Option.getOrUndefined(this.settings.contentConverter)
      const state = this[stateKey]
      /** `send` for an Effect that is already running: no second suspend. */
      const sendNow = (item: Frame.Frame) => write(state, item) ?? Effect.void
      cache.sendSerialized = converter === undefined
        ? () => converterNotFound
        : (schema, value) => Effect.flatMap(converter.serialize(schema, value), sendNow)
    }
    return cache.sendSerialized
  }

  get receiveDeserialized(): DefaultClientWebSocketSession["receiveDeserialized"] {
    const cache = this.cache
    if (cache.receiveDeserialized === undefined) {
      const converter = Option.getOrUndefined(this.settings.contentConverter)
      const receive = this.receive
      cache.receiveDeserialized = converter === undefined
        ? () => converterNotFound
        : (schema) => Effect.flatMap(receive, deserializeWith(converter, schema))
    }
    return cache.receiveDeserialized
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
