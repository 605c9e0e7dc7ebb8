/**
 * The reconnecting session (Reconnecting.ts holds the rules): one supervisor fiber opens a session after another
 * through the public builder, and three bounded hand-offs connect them to the user.
 *
 * - `outgoing` (a Mailbox of `bufferSize`): what `send` was given. One writer fiber per connection drains it into
 *   that connection, after `onOpen`. An item whose `send` failed because the connection had already ended was not
 *   written; it stays in `carry` and goes first on the next connection. An item handed to a connection is never
 *   handed to another one (at-most-once per connection).
 * - `inbox` (a Mailbox): the messages of every connection. One reader fiber per connection pumps the session's
 *   `incoming` into it. A new connection is opened only once the previous reader is done (everything its connection
 *   received is in the inbox), so messages stay in order across connections, none is delivered twice, and a
 *   consumer that does not keep up holds back reconnecting rather than piling up ended connections.
 * - `status` (a SubscriptionRef) and `ended` (a Deferred with the final close reason).
 *
 * The writer is never interrupted while a connection lives: interrupting it between taking an item and writing
 * it could lose an item that was never written. When its connection ends, a `WAKE` item wakes it if it waits.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Inspectable from "effect/Inspectable"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { CloseReason, normal, validateForSending } from "../CloseReason.js"
import type { WebsocketContentConverter } from "../Converter.js"
import { WebSocketException } from "../Errors.js"
import * as Frame from "../Frame.js"
import type { Service, WebSockets } from "../Layer.js"
import {
  DEFAULT_BUFFER_SIZE,
  defaultSchedule,
  isRetriedClose,
  isRetriedFailure,
  type ReconnectingOptions,
  type ReconnectingSession,
  Status
} from "../Reconnecting.js"
import type { DefaultClientWebSocketSession } from "../Session.js"
import { converterNotFound, deserializeWith } from "./deserialize.js"
import * as Metrics from "./metrics.js"
import { InvalidRequest, type Request, resolve } from "./request.js"

/** What the plugin module hands in (passed in rather than imported, so that Layer.ts can re-export `make`). */
export interface Plugin {
  readonly tag: typeof WebSockets
  readonly open: (
    request: Request
  ) => Effect.Effect<DefaultClientWebSocketSession, WebSocketException, WebSockets | Scope.Scope>
}

/** How long a close we started may wait for the peer's Close before the connection is dropped. */
const CLOSE_WAIT = Duration.seconds(5)

/** Messages the inbox holds before readers wait for the consumer (each session buffers more on its own). */
const INBOX_CAPACITY = 256

type Outgoing = string | Uint8Array | Frame.Frame

/** Wakes a writer that waits for an item when its connection has ended; skipped by every writer. */
const WAKE: Outgoing = Frame.text("effect-websockets/Reconnecting/wake")

const INTERNAL_ERROR = new CloseReason({ code: CloseReason.Codes.INTERNAL_ERROR, message: "" })

const closedError = (reason: Option.Option<CloseReason>) =>
  WebSocketException.closed(reason, "reconnecting WebSocket session")

/** The error a connection ended with, told from its close reason (used when the reader has not said yet). */
const endError = (reason: Option.Option<CloseReason>): WebSocketException => {
  if (Option.isNone(reason) || reason.value.code === CloseReason.Codes.CLOSED_ABNORMALLY) {
    const abnormal = new CloseReason({ code: CloseReason.Codes.CLOSED_ABNORMALLY, message: "" })
    return WebSocketException.abnormalClosure(abnormal)
  }
  // the session sends exactly this reason on a ping timeout
  if (reason.value.code === CloseReason.Codes.INTERNAL_ERROR && reason.value.message === "Ping timeout") {
    return WebSocketException.pingTimeout(reason.value)
  }
  return WebSocketException.peerClosed(reason.value)
}

/** How one attempt ended. */
type Outcome =
  /** No connection was opened (or `onOpen` failed); `fatal`: end at once whatever the rules say. */
  | { readonly _tag: "Failed"; readonly error: WebSocketException; readonly fatal: boolean }
  /** A connection was open and has ended. */
  | { readonly _tag: "Ended"; readonly reason: Option.Option<CloseReason>; readonly cause: WebSocketException }
  /** `close()` was called before a connection was open. */
  | { readonly _tag: "Stopped" }

/** The reader of one connection: completes with the error its session's `incoming` failed with, if any. */
type Reader = Fiber.Fiber<WebSocketException | undefined>

class State {
  /** `close()` was called with this reason: no more sends, no more connections. */
  closing: CloseReason | undefined = undefined
  /** Ended for good. */
  finished = false
  /** The close reason of the last connection that was open. */
  lastReason: Option.Option<CloseReason> = Option.none()
  /** A connection is open now. */
  open = false
  /** An item taken from `outgoing` and not written yet (see the module comment). */
  carry: Outgoing | undefined = undefined
  /** The reader of the last connection. */
  reader: Reader | undefined = undefined
  /** How `incoming` ends, once decided (it ends only after the last reader is done). */
  inboxExit: Exit.Exit<void, WebSocketException> | undefined = undefined
}

const validateOptions = (options: ReconnectingOptions<any, any>): void => {
  const size = options.bufferSize
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 1)) {
    throw new Cause.IllegalArgumentException(
      `Invalid reconnecting options: bufferSize must be a whole number >= 1 (got ${size})`
    )
  }
  const overflow = options.overflow
  if (overflow !== undefined && overflow !== "suspend" && overflow !== "fail") {
    throw new Cause.IllegalArgumentException(
      `Invalid reconnecting options: overflow must be "suspend" or "fail" (got ${String(overflow)})`
    )
  }
}

/** A request that can never be valid is refused once, not retried forever. */
const invalidRequest = (request: Request): WebSocketException | undefined => {
  try {
    resolve(request)
    return undefined
  } catch (error) {
    if (error instanceof InvalidRequest) return WebSocketException.invalidRequest(error.message)
    return undefined // anything else is the builder's to report
  }
}

export const make = <E = never, R = never>(
  plugin: Plugin,
  request: Request,
  options: ReconnectingOptions<E, R> = {}
): Effect.Effect<ReconnectingSession, never, WebSockets | Scope.Scope | R> =>
  Effect.gen(function*() {
    yield* Effect.sync(() => validateOptions(options))
    const service: Service = yield* plugin.tag
    const scope = yield* Effect.scope
    // the connections and their readers live in a scope made now, so that it closes after the finalizer added at the
    // end of `make` (finalizers run in reverse): that one stops reconnecting first
    const connections = yield* Scope.fork(scope, ExecutionStrategy.parallel)
    const state = new State()
    const overflow = options.overflow ?? "suspend"
    const outgoing = yield* Mailbox.make<Outgoing>({
      capacity: options.bufferSize ?? DEFAULT_BUFFER_SIZE,
      strategy: overflow === "fail" ? "dropping" : "suspend"
    })
    const inbox = yield* Mailbox.make<Frame.Data, WebSocketException>(INBOX_CAPACITY)
    const status = yield* SubscriptionRef.make<Status>(Status.Connecting())
    const ended = yield* Deferred.make<Option.Option<CloseReason>>()
    const closeRequested = yield* Deferred.make<void>()
    const driver = yield* Schedule.driver(options.schedule ?? defaultSchedule)
    const onOpen = options.onOpen

    /** Ends for good: no more sends, the final status and reason, then `incoming` ends once readers are done. */
    const finish = (reason: Option.Option<CloseReason>, error: WebSocketException | undefined) =>
      Effect.gen(function*() {
        if (state.finished) return
        state.finished = true
        state.open = false
        yield* outgoing.shutdown
        const reader = state.reader
        // the status tells the reader's error when it is known already (the reader may wait for the consumer)
        const told = reader === undefined ? undefined : Option.getOrUndefined(yield* Fiber.poll(reader))
        const cause = error ?? (told !== undefined && Exit.isSuccess(told) ? told.value : undefined)
        yield* SubscriptionRef.set(status, Status.Closed({ reason, cause: Option.fromNullable(cause) }))
        yield* Deferred.succeed(ended, reason)
        if (error !== undefined) state.inboxExit = Exit.fail(error)
        // what the last connection received still reaches the consumer first
        const last = reader === undefined ? undefined : yield* Fiber.join(reader)
        const failure = error ?? last
        yield* inbox.done(failure === undefined ? Exit.void : Exit.fail(failure))
      })

    /** Pumps one session's messages into the inbox; ends the connection's scope once they are all there. */
    const read = (session: DefaultClientWebSocketSession, connection: Scope.CloseableScope) =>
      Effect.gen(function*() {
        const result = yield* session.incoming.pipe(
          Stream.runForEachChunk((chunk) => inbox.offerAll(chunk)),
          Effect.either
        )
        return result._tag === "Left" ? result.left : undefined
      }).pipe(Effect.ensuring(Scope.close(connection, Exit.void)))

    /**
     * Drains `outgoing` into one session until it ends (see the module comment). After `close()`, once everything
     * sent before it is written, sends the Close and gives the peer `CLOSE_WAIT` to answer.
     */
    const write = (
      session: DefaultClientWebSocketSession,
      connectionEnded: { ended: boolean },
      connection: Scope.CloseableScope
    ) =>
      Effect.gen(function*() {
        while (true) {
          let item = state.carry
          if (item === undefined) {
            const taken = yield* Effect.option(outgoing.take)
            if (Option.isNone(taken)) {
              // `outgoing` ended: close() was called and everything before it has been written
              if (state.closing === undefined || connectionEnded.ended) return
              yield* Effect.ignore(session.close(state.closing))
              // the reader reads on until the peer's Close; a peer that never answers is dropped
              const answered = yield* session.closeReason.pipe(Effect.timeoutOption(CLOSE_WAIT))
              if (Option.isNone(answered)) yield* Scope.close(connection, Exit.void)
              return
            }
            if (taken.value === WAKE) {
              if (connectionEnded.ended) return
              continue
            }
            item = taken.value
            state.carry = item
          }
          const sent = yield* Effect.either(session.send(item))
          // not written: the connection had ended; the item goes first on the next one
          if (sent._tag === "Left") return
          state.carry = undefined
        }
      })

    /** Runs `effect` unless close() is called first. */
    const unlessClosed = <A, E2, R2>(effect: Effect.Effect<A, E2, R2>) =>
      Effect.raceFirst(
        Effect.map(effect, Option.some),
        Effect.as(Deferred.await(closeRequested), Option.none<A>())
      )

    /** One connection: open it, run `onOpen`, then serve it until it ends. */
    const attempt: Effect.Effect<Outcome, never, WebSockets | R> = Effect.gen(function*() {
      // backpressure across connections: a new connection opens once the last one's messages are in the inbox,
      // so that a consumer that does not keep up holds at most one ended connection, not one per reconnect
      const previous = state.reader
      if (previous !== undefined && Option.isNone(yield* unlessClosed(Fiber.await(previous)))) {
        return { _tag: "Stopped" } as const
      }
      const connection = yield* Scope.fork(connections, ExecutionStrategy.sequential)
      const opened = yield* unlessClosed(Effect.either(Scope.extend(plugin.open(request), connection)))
      if (Option.isNone(opened)) {
        yield* Scope.close(connection, Exit.void)
        return { _tag: "Stopped" } as const
      }
      if (opened.value._tag === "Left") {
        yield* Scope.close(connection, Exit.void)
        return { _tag: "Failed", error: opened.value.left, fatal: false } as const
      }
      const session = opened.value.right
      if (onOpen !== undefined) {
        const ran = yield* unlessClosed(Effect.exit(onOpen(session)))
        if (Option.isNone(ran)) {
          yield* Effect.ignore(session.close(state.closing ?? normal))
          yield* Scope.close(connection, Exit.void)
          return { _tag: "Stopped" } as const
        }
        if (Exit.isFailure(ran.value)) {
          const error = Cause.squash(ran.value.cause)
          yield* Effect.ignore(session.close(INTERNAL_ERROR))
          yield* Scope.close(connection, Exit.void)
          if (error instanceof WebSocketException) return { _tag: "Failed", error, fatal: false } as const
          return {
            _tag: "Failed",
            fatal: true,
            error: new WebSocketException({
              reason: "Closed",
              message: `onOpen failed: ${error instanceof Error ? error.message : String(error)}`,
              cause: error
            })
          } as const
        }
      }
      yield* driver.reset
      state.open = true
      yield* SubscriptionRef.set(status, Status.Open({ call: session.call }))
      const reader = yield* Effect.forkIn(read(session, connection), connections)
      state.reader = reader
      const connectionEnded = { ended: false }
      const writer = yield* Effect.fork(write(session, connectionEnded, connection))
      const reason = yield* session.closeReason
      state.open = false
      state.lastReason = reason
      connectionEnded.ended = true
      outgoing.unsafeOffer(WAKE)
      yield* Fiber.await(writer)
      const told = yield* Fiber.poll(reader)
      const cause = Option.isSome(told) && Exit.isSuccess(told.value) && told.value.value !== undefined
        ? told.value.value
        : endError(reason)
      return { _tag: "Ended", reason, cause } as const
    })

    const supervise: Effect.Effect<void, never, WebSockets | R> = Effect.gen(function*() {
      const invalid = invalidRequest(request)
      if (invalid !== undefined) return yield* finish(Option.none(), invalid)
      let attempts = 0
      while (true) {
        const outcome = yield* attempt
        let error: WebSocketException
        switch (outcome._tag) {
          case "Stopped":
            return yield* finish(Option.fromNullable(state.closing), undefined)
          case "Failed":
            if (state.closing !== undefined) return yield* finish(Option.some(state.closing), undefined)
            if (outcome.fatal || !isRetriedFailure(outcome.error)) {
              return yield* finish(Option.none(), outcome.error)
            }
            error = outcome.error
            break
          case "Ended":
            attempts = 0
            // after close(), or a Close the rules do not retry: a quiet end (the reader tells of violations)
            if (state.closing !== undefined || !isRetriedClose(outcome.reason)) {
              return yield* finish(outcome.reason, undefined)
            }
            error = outcome.cause
            break
        }
        attempts++
        yield* SubscriptionRef.set(status, Status.Reconnecting({ attempt: attempts, cause: error }))
        const next = yield* unlessClosed(Effect.either(driver.next(error)))
        if (Option.isNone(next)) return yield* finish(Option.some(state.closing ?? normal), undefined)
        if (next.value._tag === "Left") {
          // the schedule is done: give up with the last error
          return yield* finish(outcome._tag === "Ended" ? outcome.reason : Option.none(), error)
        }
        // observability: one more connection attempt after a lost or failed one (`websockets.reconnects`)
        if (service.config.metrics !== false) Metrics.recordReconnect(service.engine)
      }
    })

    yield* Effect.forkIn(supervise, scope)
    // runs first (finalizers run in reverse): nothing reconnects from here on; then the supervisor is interrupted,
    // then the connections still open close with 1000 as their scopes close
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (!state.finished) {
          state.finished = true
          state.closing ??= normal
          const reason = state.open ? Option.some(normal) : state.lastReason
          state.open = false
          yield* outgoing.shutdown
          yield* SubscriptionRef.set(status, Status.Closed({ reason, cause: Option.none() }))
          yield* Deferred.succeed(ended, reason)
        }
        // readers stop with the scope: whoever still reads `incoming` learns of the end now
        yield* inbox.done(state.inboxExit ?? Exit.void)
      })
    )

    return makeSession({ state, outgoing, inbox, status, ended, closeRequested }, service.config.contentConverter)
  })

interface Parts {
  readonly state: State
  readonly outgoing: Mailbox.Mailbox<Outgoing>
  readonly inbox: Mailbox.Mailbox<Frame.Data, WebSocketException>
  readonly status: SubscriptionRef.SubscriptionRef<Status>
  readonly ended: Deferred.Deferred<Option.Option<CloseReason>>
  readonly closeRequested: Deferred.Deferred<void>
}

const makeSession = (
  parts: Parts,
  contentConverter: Option.Option<WebsocketContentConverter>
): ReconnectingSession => {
  const { closeRequested, ended, inbox, outgoing, state, status } = parts
  const notOpen = () => closedError(Option.fromNullable(state.closing))
  const bufferFull = () => WebSocketException.bufferFull("the reconnecting session")

  const close = (reason: CloseReason = normal): Effect.Effect<void, WebSocketException> =>
    Effect.suspend(() => {
      const invalid = validateForSending(reason)
      if (invalid !== undefined) {
        return Effect.fail(WebSocketException.invalidCloseCode(invalid))
      }
      if (state.closing !== undefined || state.finished) return Effect.void
      state.closing = reason
      // the writer drains what was sent before, then sends the Close; while down, the supervisor stops
      outgoing.unsafeDone(Exit.void)
      Deferred.unsafeDone(closeRequested, Exit.void)
      return Effect.void
    })

  const send = (data: Outgoing): Effect.Effect<void, WebSocketException> =>
    Effect.suspend(() => {
      if (state.closing !== undefined || state.finished) return Effect.fail(notOpen())
      if (typeof data !== "string" && !(data instanceof Uint8Array)) {
        if (data._tag === "Close") return close(Option.getOrElse(Frame.readReason(data), () => normal))
        if ((data._tag === "Ping" || data._tag === "Pong") && data.data.byteLength > Frame.MAX_CONTROL_PAYLOAD) {
          return Effect.dieMessage(`A ${data._tag} payload may hold at most ${Frame.MAX_CONTROL_PAYLOAD} bytes`)
        }
      }
      return Effect.flatMap(outgoing.offer(data), (queued) =>
        queued
          ? Effect.void
          : Effect.fail(state.closing !== undefined || state.finished ? notOpen() : bufferFull()))
    })

  const take = Effect.catchIf(
    inbox.take,
    Cause.isNoSuchElementException,
    () => Effect.fail(closedError(Option.fromNullable(state.closing ?? Option.getOrUndefined(state.lastReason))))
  )
  // one message per pull: a consumer that stops early (Stream.take) leaves the rest in the inbox
  const incoming: Stream.Stream<Frame.Data, WebSocketException> = Stream.repeatEffectOption(
    Effect.mapError(inbox.take, (e) => Cause.isNoSuchElementException(e) ? Option.none() : Option.some(e))
  )

  const converter = Option.getOrUndefined(contentConverter)

  return {
    // printed (util.inspect, JSON.stringify, String, Effect.log) as a few safe facts, like a session (inspect.ts),
    // rather than as the Effects and Streams of its members
    toJSON: () => ({
      _id: "effect-websockets/ReconnectingSession",
      phase: state.finished ? "Closed" : state.closing !== undefined ? "Closing" : state.open ? "Open" : "Reconnecting"
    }),
    toString() {
      return Inspectable.format(this.toJSON())
    },
    [Inspectable.NodeInspectSymbol]() {
      return this.toJSON()
    },
    incoming,
    receive: take,
    send,
    sendSerialized: (schema, value) =>
      converter === undefined ? converterNotFound : Effect.flatMap(converter.serialize(schema, value), send),
    receiveDeserialized: (schema) =>
      converter === undefined ? converterNotFound : Effect.flatMap(take, deserializeWith(converter, schema)),
    incomingDeserialized: (schema) =>
      converter === undefined
        ? Stream.fromEffect(converterNotFound)
        : Stream.mapEffect(incoming, deserializeWith(converter, schema)),
    status: Stream.takeUntil(status.changes, (s) => s._tag === "Closed"),
    currentStatus: SubscriptionRef.get(status),
    close,
    closeReason: Deferred.await(ended)
  }
}
