/**
 * What a session tells Effect's `Tracer` and `Metric`: the span `websockets.connect` around each handshake, the span
 * `websockets.session` over the session's life, and the `websockets.*` metrics (metrics.ts).
 *
 * The session state machine (session.ts) holds one `Observer` and calls it from a few marked lines: a data message
 * received or sent, a Pong answering the pinger, the session's end. Each call is a handful of additions; with
 * metrics turned off (`WebSockets.layer({ metrics: false })`) they return at once.
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type { CloseReason } from "../CloseReason.js"
import type * as Engine from "../Engine.js"
import type { WebSocketException } from "../Errors.js"
import * as Metrics from "./metrics.js"
import { redactUrl } from "./redact.js"

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

/** One session's observer; never shared between sessions. */
export class Observer {
  /** This session's totals, for the attributes of its span; kept only with metrics on. */
  messagesSent = 0
  messagesReceived = 0
  bytesSent = 0
  bytesReceived = 0
  /** When the pinger's outstanding Ping was sent (`performance.now()`), if one is outstanding. */
  private pingSentAt: number | undefined = undefined
  private span: Tracer.Span | undefined = undefined
  private clock: Clock.Clock | undefined = undefined
  private opened = false
  private ended = false

  constructor(
    /** The engine-tagged metrics, or undefined when metrics are off. */
    readonly metrics: Metrics.EngineMetrics | undefined,
    readonly engine: string,
    readonly url: URL
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

  /** The handshake succeeded: the session span starts and the session counts as open. */
  open(handshake: Engine.Handshake): Effect.Effect<void> {
    return Effect.flatMap(
      Effect.makeSpan(SESSION_SPAN, {
        kind: "client",
        captureStackTrace: false,
        attributes: {
          [Attributes.url]: redactUrl(this.url),
          [Attributes.engine]: this.engine,
          [Attributes.protocol]: handshake.protocol,
          [Attributes.extensions]: handshake.extensions
        }
      }),
      (span) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            this.span = span
            this.clock = clock
            this.opened = true
            // the session may have ended already (a peer that closes at once): then it was never counted as open
            if (this.ended) this.endSpan(this.endReason, this.endFailure)
            else if (this.metrics !== undefined) this.metrics.sessionsOpen.unsafeModify(1, Metrics.noTags)
          })
        )
    )
  }

  private endReason: Option.Option<CloseReason> = Option.none()
  private endFailure: WebSocketException | undefined = undefined

  /** The session ended (once): it no longer counts as open, and its span ends with the close code. */
  end(reason: Option.Option<CloseReason>, failure: WebSocketException | undefined): void {
    if (this.ended) return
    this.ended = true
    this.endReason = reason
    this.endFailure = failure
    this.pingSentAt = undefined
    if (!this.opened) return
    if (this.metrics !== undefined) this.metrics.sessionsOpen.unsafeModify(-1, Metrics.noTags)
    this.endSpan(reason, failure)
  }

  private endSpan(reason: Option.Option<CloseReason>, failure: WebSocketException | undefined): void {
    const span = this.span
    if (span === undefined || this.clock === undefined) return
    this.span = undefined
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
    if (failure !== undefined) span.attribute(Attributes.errorReason, failure.reason)
    span.end(this.clock.unsafeCurrentTimeNanos(), failure === undefined ? Exit.void : Exit.fail(failure))
  }
}

/** A session's observer: metrics tagged with the engine's name, or none when `metrics` is false. */
export const make = (engine: Engine.Service, url: URL, metrics: boolean): Observer => {
  const name = Metrics.engineName(engine)
  return new Observer(metrics ? Metrics.forEngine(name) : undefined, name, url)
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
      attributes: { [Attributes.url]: redactUrl(observer.url), [Attributes.engine]: observer.engine }
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
