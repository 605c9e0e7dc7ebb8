/**
 * The errors of the library: values in the error channel, never thrown.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { CloseReason } from "./CloseReason.js"
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
 * A failure of the connection or of the session.
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
}> {}

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
