/**
 * Reconnecting sessions: one logical session that survives dropped connections (`WebSockets.reconnecting`).
 *
 * What reconnects and what never does, the send buffer and the status are described here; the state machine that
 * drives them lives in `internal/reconnecting.ts`.
 *
 * **Reconnects** (as long as the `schedule` continues): the connection dropped without a Close (1006); no Pong
 * within `timeout` (`PingTimeout`); the connection could not be made (`Connect`, `Timeout`); the handshake was
 * answered 408, 429 or 5xx; the peer closed with 1001 GOING_AWAY, 1011 INTERNAL_ERROR, 1012 SERVICE_RESTART,
 * 1013 TRY_AGAIN_LATER or 1014.
 *
 * **Never reconnects**: after `close()`; after a normal Close by the peer (1000, or any code not listed above);
 * after a permanent refusal (any other handshake status, e.g. 401, 403, 404; `Capability`; a request that can never
 * be valid); after a violation (`FrameTooBig`, `Protocol`).
 *
 * **Delivery is at-most-once per connection.** What `send` is given goes into a bounded buffer and is written to
 * the current connection in order; while no connection is open it waits there and goes out first, in order, once
 * a connection is open again (after `onOpen`). A message that was handed to a connection that then dropped may be
 * lost (the peer may or may not have read it); it is never written twice. A message the connection refused because
 * it had already ended was not written, and goes out on the next connection. A fragmented message (frames with
 * `fin: false`) is not safe across a reconnect: send whole messages.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Inspectable from "effect/Inspectable"
import type * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Stream from "effect/Stream"
import type { CloseReason } from "./CloseReason.js"
import { CloseCodes } from "./core/limits.js"
import type { WebSocketException } from "./Errors.js"
import type * as Frame from "./Frame.js"
import type { Call, DefaultClientWebSocketSession } from "./Session.js"

/**
 * Where a reconnecting session stands.
 *
 * - `Connecting`: the first connection is being made.
 * - `Open`: a connection is open (`onOpen` has run); `call` is its handshake.
 * - `Reconnecting`: the last connection ended or could not be made (`cause`), and attempt number `attempt`
 *   (1, 2, …, counted from the last open connection) is waiting for its turn or under way.
 * - `Closed`: for good. `reason` is the last connection's close reason (none when the last failure happened before
 *   a connection was open, e.g. a refused handshake), `cause` the error that ended it, if any.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = Data.TaggedEnum<{
  Connecting: {}
  Open: { readonly call: Call }
  Reconnecting: { readonly attempt: number; readonly cause: WebSocketException }
  Closed: { readonly reason: Option.Option<CloseReason>; readonly cause: Option.Option<WebSocketException> }
}>

/**
 * Constructors, guards (`Status.$is("Open")`) and matching (`Status.$match`) for `Status`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Status = Data.taggedEnum<Status>()

/**
 * The default `schedule`: exponential backoff from 500 ms (×2 per attempt), each delay jittered by ±20%, capped
 * at 30 s, forever.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSchedule: Schedule.Schedule<unknown, WebSocketException> = Schedule.exponential("500 millis").pipe(
  Schedule.jittered,
  Schedule.modifyDelay((delay) => Duration.min(delay, Duration.seconds(30)))
)

/**
 * The default `bufferSize`: how many sends may wait while no connection is open.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_BUFFER_SIZE = 1024

/**
 * How `WebSockets.reconnecting` behaves.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReconnectingOptions<E = never, R = never> {
  /**
   * When to try again: it is stepped with each error that may be retried and waits as long as it says; when it
   * ends, the session is closed with that error. It starts afresh each time a connection opens. Default:
   * `defaultSchedule` (jittered exponential from 500 ms, capped at 30 s, forever).
   */
  readonly schedule?: Schedule.Schedule<unknown, WebSocketException, R> | undefined
  /** How many sends the buffer holds (default 1024). */
  readonly bufferSize?: number | undefined
  /** A full buffer: `send` waits for room ("suspend", the default) or fails with reason "BufferFull" ("fail"). */
  readonly overflow?: "suspend" | "fail" | undefined
  /**
   * Runs on every connection once it is open, before buffered sends go out and before `incoming` reads from it:
   * authenticate, resubscribe. It has the session to itself (it may `send` and `receive`). Failing with a
   * `WebSocketException` counts as that connection's end (a dropped connection is retried); failing with any other
   * error closes the connection with 1011 and ends the reconnecting session (`incoming` fails with reason
   * "Closed", the error as `cause`).
   */
  readonly onOpen?: ((session: DefaultClientWebSocketSession) => Effect.Effect<void, E, R>) | undefined
}

/**
 * One logical session over successive connections.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReconnectingSession extends Inspectable.Inspectable {
  /**
   * Data messages from every connection in turn, each once, in order. Ends when the session closes normally;
   * fails only when it ends for good with an error (reconnecting gave up, or a permanent refusal), with that error.
   * A consumer that stops early loses nothing: the rest stays for the next reader. A consumer that does not keep
   * up holds back reconnecting: the next connection opens once the last one's messages have room in the buffer,
   * so memory stays bounded however often the connection drops.
   */
  readonly incoming: Stream.Stream<Frame.Text | Frame.Binary, WebSocketException>
  /** The next data message (see `incoming`); fails with reason "Closed" once the session has ended. */
  readonly receive: Effect.Effect<Frame.Text | Frame.Binary, WebSocketException>
  /**
   * Queues a message for the current or next connection (at-most-once per connection, see the module docs).
   * Fails with reason "Closed" after `close` or once the session has ended, and with reason "BufferFull" when
   * `overflow` is "fail" and the buffer is full. A `Frame.close(reason)` closes the session like `close(reason)`.
   */
  readonly send: (data: string | Uint8Array | Frame.Frame) => Effect.Effect<void, WebSocketException>
  /** As on a session: the value's type comes from the schema; sent (or queued) like `send`. */
  readonly sendSerialized: DefaultClientWebSocketSession["sendSerialized"]
  /** As on a session, over `receive`. */
  readonly receiveDeserialized: DefaultClientWebSocketSession["receiveDeserialized"]
  /** As on a session, over `incoming`: survives reconnects. */
  readonly incomingDeserialized: DefaultClientWebSocketSession["incomingDeserialized"]
  /**
   * The status: the current value first, then every change; ends after `Closed`.
   */
  readonly status: Stream.Stream<Status>
  /** The current status, at once. */
  readonly currentStatus: Effect.Effect<Status>
  /**
   * Closes for good: what was sent before goes out first when a connection is open, then Close(`reason`, default
   * 1000 NORMAL); while no connection is open, reconnecting stops and what waits in the buffer is dropped.
   * Refuses codes and reasons that may not be sent (reason "InvalidCloseCode"). Returns once the close is under way.
   */
  readonly close: (reason?: CloseReason) => Effect.Effect<void, WebSocketException>
  /** Waits until the session has ended for good, then tells why (see `Status.Closed`). */
  readonly closeReason: Effect.Effect<Option.Option<CloseReason>>
}

const RETRIED_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCodes.GOING_AWAY,
  CloseCodes.CLOSED_ABNORMALLY,
  CloseCodes.INTERNAL_ERROR,
  CloseCodes.SERVICE_RESTART,
  CloseCodes.TRY_AGAIN_LATER,
  CloseCodes.BAD_GATEWAY
])

/**
 * Whether a connection that ended with `reason` is worth reconnecting: a drop (1006, or no reason at all), or a
 * peer Close of 1001, 1011, 1012, 1013 or 1014 (1011 is also what a ping timeout sends).
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetriedClose = (reason: Option.Option<CloseReason>): boolean =>
  reason._tag === "None" || RETRIED_CLOSE_CODES.has(reason.value.code)

/**
 * Whether an attempt that failed before its connection was in use (opening it, or `onOpen`) is worth another one:
 * `Connect`, `Timeout`, a handshake answered 408, 429 or 5xx, or the new connection dropping (`Closed`,
 * `PingTimeout`). Other handshake answers, `Capability` and the rest are permanent.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetriedFailure = (error: WebSocketException): boolean => {
  switch (error.reason) {
    case "Connect":
    case "Timeout":
    case "Closed":
    case "PingTimeout":
      return true
    case "Handshake": {
      const status = error.status
      return status === 408 || status === 429 || (status !== undefined && status >= 500 && status <= 599)
    }
    default:
      return false
  }
}
