/**
 * What a session tells Effect's `Tracer` and `Metric`: the span `websockets.connect` around each handshake, the span
 * `websockets.session` over the session's life, and the `websockets.*` metrics (metrics.ts).
 *
 * The session state machine (session.ts) holds one `Observer` and calls it from a few marked lines: a data message
 * received or sent, a Pong answering the pinger, the session's end. Each call is a handful of additions; with
 * metrics turned off (`WebSockets.layer({ metrics: false })`) they return at once.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { CloseReason } from "../CloseReason.js"
import { redactUrl } from "../core/redact.js"
import type * as Engine from "../Engine.js"
import type { WebSocketException } from "../Errors.js"
import * as Metrics from "./metrics.js"

/** The span around each opening handshake. */
export const CONNECT_SPAN = "websockets.connect"
/** The span over a session's life, from the handshake's answer to the session's end. */
export const SESSION_SPAN = "websockets.session"

/** Span attribute names. */
export const Attributes = {
  url: "websockets.url",
  engine: "websockets.engine",
  status: "websockets.status",
  protocol: "websockets.protocol",
  extensions: "websockets.extensions",
  errorReason: "websockets.error.reason",
  closeCode: "websockets.close.code",
  closeReason: "websockets.close.reason",
  messagesSent: "websockets.messages.sent",
  messagesReceived: "websockets.messages.received",
  bytesSent: "websockets.bytes.sent",
  bytesReceived: "websockets.bytes.received"
} as const

const now: () => number = () => performance.now()

/**
 * One session's observer; never shared between sessions.
 *
 * The session span is made when the session ends, with the start time recorded when it opened: a span object
 * (attributes map, ids, status) held for the whole life of every session would cost idle sessions about 1 KiB each,
 * and exporters see a span only once it has ended anyway.
 */
export class Observer {
  /** This session's totals, for the attributes of its span; kept only with metrics on. */
  messagesSent = 0
  messagesReceived = 0
  bytesSent = 0
  bytesReceived = 0
  /** When the pinger's outstanding Ping was sent (`performance.now()`), if one is outstanding. */
  private pingSentAt: number | undefined = undefined
  /** What the session span needs, recorded when the session opened (undefined: not open, or tracing disabled). */
  private tracing: Tracing | undefined = undefined
  /**
   * 0: connecting, 1: open, 2: ended before `open` was told, 3: ended and done. One field rather than flags: idle
   * sessions are mostly bookkeeping.
   */
  private phase: 0 | 1 | 2 | 3 = 0

  constructor(
    /** The engine-tagged metrics, or undefined when metrics are off. */
    readonly metrics: Metrics.EngineMetrics | undefined,
    readonly engine: string,
    /**
     * The URL with any password redacted. A string rather than the `URL`: the session state keeps its observer, and
     * a `URL` (with its internal context) would add about 200 bytes to every idle session.
     */
    readonly url: string
  ) {}

  /** A data message arrived (before it is queued for the consumer). */
  received(data: string | Uint8Array): void {
    const m = this.metrics
    if (m === undefined) return
    const bytes = typeof data === "string" ? Metrics.utf8Length(data) : data.byteLength
    this.messagesReceived++
    this.bytesReceived += bytes
    m.messagesReceived.unsafeUpdate(1, Metrics.noTags)
    m.bytesReceived.unsafeUpdate(bytes, Metrics.noTags)
  }

  /** A data frame is handed to the engine; a message counts once, with its last frame (`fin`). */
  sent(data: string | Uint8Array, fin: boolean): void {
    const m = this.metrics
    if (m === undefined) return
    const bytes = typeof data === "string" ? Metrics.utf8Length(data) : data.byteLength
    this.bytesSent += bytes
    m.bytesSent.unsafeUpdate(bytes, Metrics.noTags)
    if (fin) {
      this.messagesSent++
      m.messagesSent.unsafeUpdate(1, Metrics.noTags)
    }
  }

  /** The pinger sent a Ping. */
  pingSent(): void {
    if (this.metrics !== undefined) this.pingSentAt = now()
  }

  /** The Pong matching the pinger's Ping arrived. */
  pongReceived(): void {
    if (this.metrics === undefined || this.pingSentAt === undefined) return
    this.metrics.pingRtt.unsafeUpdate(now() - this.pingSentAt, Metrics.noTags)
    this.pingSentAt = undefined
  }

  /**
   * The handshake succeeded: the session counts as open, and the fiber's tracer, parent span and clock are recorded
   * for the session span.
   */
  open(handshake: Engine.Handshake): Effect.Effect<void> {
    return Effect.withFiberRuntime((fiber) => {
      if (this.phase === 1 || this.phase === 3) return Effect.void
      const endedAlready = this.phase === 2
      this.phase = endedAlready ? 3 : 1
      if (fiber.getFiberRef(FiberRef.currentTracerEnabled)) {
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        this.tracing = {
          tracer: fiber.currentTracer,
          parent: Context.getOption(fiber.currentContext, Tracer.ParentSpan),
          clock,
          startTime: clock.unsafeCurrentTimeNanos(),
          handshake
        }
      }
      // the session may have ended already (a peer that closes at once): then it never counted as open
      if (endedAlready) this.endSpan()
      else if (this.metrics !== undefined) this.metrics.sessionsOpen.unsafeModify(1, Metrics.noTags)
      return Effect.void
    })
  }

  private endReason: Option.Option<CloseReason> = Option.none()
  private endFailure: WebSocketException | undefined = undefined

  /** The session ended (once): it no longer counts as open, and its span ends with the close code. */
  end(reason: Option.Option<CloseReason>, failure: WebSocketException | undefined): void {
    if (this.phase >= 2) return
    const wasOpen = this.phase === 1
    this.phase = wasOpen ? 3 : 2
    this.endReason = reason
    this.endFailure = failure
    this.pingSentAt = undefined
    if (!wasOpen) return
    if (this.metrics !== undefined) this.metrics.sessionsOpen.unsafeModify(-1, Metrics.noTags)
    this.endSpan()
  }

  private endSpan(): void {
    const tracing = this.tracing
    if (tracing === undefined) return
    this.tracing = undefined
    const span = tracing.tracer.span(SESSION_SPAN, tracing.parent, Context.empty(), [], tracing.startTime, "client")
    span.attribute(Attributes.url, this.url)
    span.attribute(Attributes.engine, this.engine)
    span.attribute(Attributes.protocol, tracing.handshake.protocol)
    span.attribute(Attributes.extensions, tracing.handshake.extensions)
    const reason = this.endReason
    if (Option.isSome(reason)) {
      span.attribute(Attributes.closeCode, reason.value.code)
      if (reason.value.message !== "") span.attribute(Attributes.closeReason, reason.value.message)
    }
    if (this.metrics !== undefined) {
      span.attribute(Attributes.messagesSent, this.messagesSent)
      span.attribute(Attributes.messagesReceived, this.messagesReceived)
      span.attribute(Attributes.bytesSent, this.bytesSent)
      span.attribute(Attributes.bytesReceived, this.bytesReceived)
    }
    const failure = this.endFailure
    if (failure !== undefined) span.attribute(Attributes.errorReason, failure.reason)
    span.end(tracing.clock.unsafeCurrentTimeNanos(), failure === undefined ? Exit.void : Exit.fail(failure))
  }
}

interface Tracing {
  readonly tracer: Tracer.Tracer
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly clock: Clock.Clock
  readonly startTime: bigint
  readonly handshake: Engine.Handshake
}

/** A session's observer: metrics tagged with the engine's name, or none when `metrics` is false. */
export const make = (engine: Engine.Service, url: URL, metrics: boolean): Observer => {
  const name = Metrics.engineName(engine)
  return new Observer(metrics ? Metrics.forEngine(name) : undefined, name, redactUrl(url))
}

/**
 * Runs an engine's `connect` inside the span `websockets.connect` (redacted url, engine; then status, protocol and
 * extensions of the answer, or the error), and starts the session span once it succeeded.
 */
export const connect = <E extends WebSocketException>(
  observer: Observer,
  connect: Effect.Effect<Engine.Connection, E>
): Effect.Effect<Engine.Connection, E> =>
  Effect.useSpan(
    CONNECT_SPAN,
    {
      kind: "client",
      captureStackTrace: false,
      attributes: { [Attributes.url]: observer.url, [Attributes.engine]: observer.engine }
    },
    (span) =>
      connect.pipe(
        Effect.tapBoth({
          onFailure: (error) =>
            Effect.sync(() => {
              span.attribute(Attributes.errorReason, error.reason)
              if (error.status !== undefined) span.attribute(Attributes.status, error.status)
            }),
          onSuccess: (connection) => {
            const handshake = connection.handshake
            span.attribute(Attributes.status, handshake.status)
            span.attribute(Attributes.protocol, handshake.protocol)
            span.attribute(Attributes.extensions, handshake.extensions)
            return observer.open(handshake)
          }
        })
      )
  )
