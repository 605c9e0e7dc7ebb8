/**
 * The errors of the library: values in the error channel, never thrown.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type { CloseReason } from "./CloseReason.js"
import { redactUrl, scrub } from "./core/redact.js"
import type { Frame } from "./Frame.js"

/**
 * What went wrong with a connection or a session.
 *
 * @since 0.1.0
 * @category errors
 */
export type WebSocketExceptionReason =
  | "Handshake"
  | "Connect"
  | "Timeout"
  | "Closed"
  | "PingTimeout"
  | "FrameTooBig"
  | "Protocol"
  | "InvalidCloseCode"
  | "Capability"
  | "BufferFull"

/**
 * A failure of the connection or of the session. Build one with the static constructors below
 * (`WebSocketException.handshake(status)`, `.closed(reason)`, `.connect(url, cause)`, …) rather than `new`: they
 * word the message the same way everywhere and never show a URL's password.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebSocketException extends Data.TaggedError("WebSocketException")<{
  readonly reason: WebSocketExceptionReason
  readonly message: string
  readonly status?: number | undefined
  readonly closeReason?: CloseReason | undefined
  readonly cause?: unknown
}> {
  // Every message the library puts in a WebSocketException is built by one of these constructors, so that every
  // engine says exactly the same thing and a URL is redacted (its password replaced) in one place.

  /**
   * The server answered the upgrade with `status` instead of 101 (the message is Ktor's).
   *
   * @since 0.1.0
   */
  static handshake(status: number): WebSocketException {
    return new WebSocketException({
      reason: "Handshake",
      message: `Handshake exception, expected status code 101 but was ${status}`,
      status
    })
  }

  /**
   * The server's answer to the upgrade broke a rule of the opening handshake; `why` says which.
   *
   * @since 0.1.0
   */
  static handshakeRejected(
    url: URL,
    why: string,
    options?: { readonly status?: number | undefined; readonly cause?: unknown }
  ): WebSocketException {
    return new WebSocketException({
      reason: "Handshake",
      message: `Handshake exception with ${redactUrl(url)}: ${scrub(why, url)}`,
      status: options?.status,
      cause: options?.cause
    })
  }

  /**
   * The connection could not be made (refused, unreachable, DNS, TLS): `cause` names why. A cause whose message
   * quotes the URL's password is not kept.
   *
   * @since 0.1.0
   */
  static connect(url: URL, cause: unknown): WebSocketException {
    const message = cause instanceof Error ? cause.message : String(cause)
    const detail = scrub(message, url)
    return new WebSocketException({
      reason: "Connect",
      message: `Could not connect to ${redactUrl(url)}: ${detail}`,
      cause: detail === message ? cause : undefined
    })
  }

  /**
   * The connection could not be made, for a reason already worded (`detail` may quote the URL: it is scrubbed).
   *
   * @since 0.1.0
   */
  static connectWith(url: URL, detail: string, cause?: unknown): WebSocketException {
    const scrubbed = scrub(detail, url)
    return new WebSocketException({
      reason: "Connect",
      message: `Could not connect to ${redactUrl(url)}: ${scrubbed}`,
      cause: scrubbed === detail ? cause : undefined
    })
  }

  /**
   * A request setting was refused before any connection was attempted (`InvalidRequest`, or an engine that could
   * not use a setting).
   *
   * @since 0.1.0
   */
  static invalidRequest(message: string, cause?: unknown): WebSocketException {
    return new WebSocketException({ reason: "Connect", message, cause })
  }

  /**
   * No answer to the upgrade within `connectTimeout`.
   *
   * @since 0.1.0
   */
  static timeout(connectTimeout: Duration.DurationInput): WebSocketException {
    return new WebSocketException({
      reason: "Timeout",
      message: `No answer to the WebSocket upgrade within ${Duration.format(Duration.decode(connectTimeout))}`
    })
  }

  /**
   * The session is closed (with `reason`, when one is known): what `send` and `receive` fail with after the end.
   *
   * @since 0.1.0
   */
  static closed(reason?: CloseReason | Option.Option<CloseReason> | undefined, subject = "WebSocket session") {
    const known = Option.isOption(reason) ? Option.getOrUndefined(reason) : reason
    return new WebSocketException({
      reason: "Closed",
      message: known === undefined
        ? `The ${subject} is closed`
        : `The ${subject} is closed: ${known.toString()}`,
      closeReason: known
    })
  }

  /**
   * The connection ended without a Close frame (1006).
   *
   * @since 0.1.0
   */
  static abnormalClosure(closeReason: CloseReason): WebSocketException {
    return new WebSocketException({
      reason: "Closed",
      message: "The connection was closed abnormally, without a Close frame",
      closeReason
    })
  }

  /**
   * No Pong answered our Ping within `timeout` (when known); `closeReason` is the Close we sent.
   *
   * @since 0.1.0
   */
  static pingTimeout(closeReason: CloseReason, timeout?: Duration.DurationInput): WebSocketException {
    return new WebSocketException({
      reason: "PingTimeout",
      message: timeout === undefined
        ? "No Pong in time"
        : `No Pong within ${Duration.format(Duration.decode(timeout))}`,
      closeReason
    })
  }

  /**
   * The peer closed the connection with `closeReason`.
   *
   * @since 0.1.0
   */
  static peerClosed(closeReason: CloseReason): WebSocketException {
    return new WebSocketException({
      reason: "Closed",
      message: `The peer closed the connection: ${closeReason.toString()}`,
      closeReason
    })
  }

  /**
   * A bounded send buffer is full (`what` names it).
   *
   * @since 0.1.0
   */
  static bufferFull(what: string): WebSocketException {
    return new WebSocketException({ reason: "BufferFull", message: `The send buffer of ${what} is full` })
  }

  /**
   * The peer sent a message larger than `maxFrameSize` (`FrameTooBig`) or broke the protocol (`Protocol`).
   *
   * @since 0.1.0
   */
  static violation(
    violation: "FrameTooBig" | "Protocol",
    detail: string,
    closeReason: CloseReason
  ): WebSocketException {
    return new WebSocketException({
      reason: violation,
      message: violation === "FrameTooBig"
        ? `Frame is too big: ${detail}`
        : `Protocol violation by the peer: ${detail}`,
      closeReason
    })
  }

  /**
   * We were asked to send something the protocol forbids (an oversize control frame, a misused fragment).
   *
   * @since 0.1.0
   */
  static protocol(message: string): WebSocketException {
    return new WebSocketException({ reason: "Protocol", message })
  }

  /**
   * A close code or close message that may not be sent.
   *
   * @since 0.1.0
   */
  static invalidCloseCode(message: string): WebSocketException {
    return new WebSocketException({ reason: "InvalidCloseCode", message })
  }

  /**
   * The engine cannot honour `setting`: `why` names what it lacks.
   *
   * @since 0.1.0
   */
  static capability(setting: string, why: string): WebSocketException {
    return new WebSocketException({
      reason: "Capability",
      message: `The engine cannot honour the setting "${setting}": ${why}`
    })
  }
}

// `WebsocketConverterNotFoundException` and `WebsocketDeserializeException` spell "Websocket" with a lower-case s:
// that is Ktor's casing, and these names (their `_tag`s) are part of the public contract. Do not "fix" them.

/**
 * `sendSerialized` / `receiveDeserialized` were called with no content converter installed.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebsocketConverterNotFoundException extends Data.TaggedError("WebsocketConverterNotFoundException")<{
  readonly message: string
}> {
  constructor(args: { readonly message?: string } = {}) {
    super({ message: args.message ?? "No converter was found for websocket" })
  }
}

/**
 * A frame could not be turned into a value: wrong frame type, malformed payload, or a value the schema rejects.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebsocketDeserializeException extends Data.TaggedError("WebsocketDeserializeException")<{
  readonly message: string
  readonly frame: Frame
  readonly cause?: unknown
}> {}
