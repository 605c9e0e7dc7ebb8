/**
 * The session: incoming and outgoing frames, close, ping, serialization (Ktor's `DefaultClientWebSocketSession`).
 * The rules live in `core/session.ts` (the protocol core) and the Effect layer over it in `internal/session.ts`.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Inspectable from "effect/Inspectable"
import type * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type { CloseReason } from "./CloseReason.js"
import type { WebsocketContentConverter } from "./Converter.js"
import type {
  WebsocketConverterNotFoundException,
  WebsocketDeserializeException,
  WebSocketException
} from "./Errors.js"
import type * as Frame from "./Frame.js"

/**
 * What the handshake established.
 *
 * @since 0.1.0
 * @category models
 */
export interface Call {
  readonly url: URL
  /** Status of the handshake response (101). */
  readonly status: number
  /** Headers of the handshake response. */
  readonly headers: Headers.Headers
  /** The subprotocol the server chose, or "". */
  readonly protocol: string
  /** The extensions the server agreed to, as in `Sec-WebSocket-Extensions`, or "". */
  readonly extensions: string
}

/**
 * An open WebSocket session. Printing it (`util.inspect`, `String`, `JSON.stringify`, `Effect.log`) shows only safe
 * facts: the url with its password redacted, the phase (`Open`, `Closing`, `Ended`), the protocol and the extensions.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import type { Session } from "effect-websockets"
 *
 * const Subscribe = Schema.Struct({ type: Schema.Literal("subscribe"), symbol: Schema.String })
 * const Quote = Schema.Struct({ symbol: Schema.String, price: Schema.Number })
 *
 * // the value's type comes from the schema: the literal "subscribe" needs no `as const`
 * export const quotes = (session: Session.DefaultClientWebSocketSession, symbol: string) =>
 *   session.sendSerialized(Subscribe, { type: "subscribe", symbol }).pipe(
 *     Effect.as(session.incomingDeserialized(Quote)), // ends when the server closes
 *     Stream.unwrap
 *   )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DefaultClientWebSocketSession extends Inspectable.Inspectable {
  readonly call: Call
  /** Whole data messages in order; ends when the peer closes, fails when the session ends abnormally. */
  readonly incoming: Stream.Stream<Frame.Text | Frame.Binary, WebSocketException>
  /**
   * `incoming` for throughput: each pull hands over every message queued (up to 1,024) as one chunk. A consumer
   * that stops early (`Stream.take`, `Stream.runHead`, a timeout) drops the rest of the chunk it was given, so use
   * it only to read the stream to its end; `incoming` hands over one message at a time and loses nothing.
   */
  readonly incomingChunked: Stream.Stream<Frame.Text | Frame.Binary, WebSocketException>
  readonly outgoing: Sink.Sink<void, string | Uint8Array | Frame.Frame, never, WebSocketException>
  /** Sends a message or frame; waits while the write buffer is above its high-water mark. */
  readonly send: (data: string | Uint8Array | Frame.Frame) => Effect.Effect<void, WebSocketException>
  /** The next data message. */
  readonly receive: Effect.Effect<Frame.Text | Frame.Binary, WebSocketException>
  /** Waits until everything sent has been handed to the transport. */
  readonly flush: Effect.Effect<void, WebSocketException>
  /** Sends Close(`reason`, default 1000 NORMAL); refuses codes and reasons that may not be sent. */
  readonly close: (reason?: CloseReason) => Effect.Effect<void, WebSocketException>
  /** Waits until the session has ended, then tells why. */
  readonly closeReason: Effect.Effect<Option.Option<CloseReason>>
  /**
   * Encodes `value` with `schema` through the installed converter and sends the frame. The type comes from the
   * schema alone (`NoInfer`), so a literal field such as `{ type: "subscribe" }` needs no `as const`.
   */
  readonly sendSerialized: <A, I>(
    schema: Schema.Schema<A, I, never>,
    value: NoInfer<A>
  ) => Effect.Effect<void, WebSocketException | WebsocketConverterNotFoundException | ParseError>
  /** The next data message, decoded with `schema` through the installed converter. */
  readonly receiveDeserialized: <A, I>(
    schema: Schema.Schema<A, I, never>
  ) => Effect.Effect<A, WebSocketException | WebsocketConverterNotFoundException | WebsocketDeserializeException>
  /**
   * `incoming`, each message decoded with `schema`: ends when the peer closes, fails with the first message that
   * cannot be decoded (`WebsocketDeserializeException`) or at once when no converter is installed.
   */
  readonly incomingDeserialized: <A, I>(
    schema: Schema.Schema<A, I, never>
  ) => Stream.Stream<A, WebSocketException | WebsocketConverterNotFoundException | WebsocketDeserializeException>
  readonly converter: Option.Option<WebsocketContentConverter>
  readonly pingInterval: Option.Option<Duration.Duration>
  readonly timeout: Duration.Duration
  readonly maxFrameSize: number
}
