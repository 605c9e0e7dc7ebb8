/**
 * The transport seam. The session logic talks only to this interface; engines (`NodeEngine` over `ws`,
 * `TestEngine` in memory) implement it.
 *
 * An engine owns framing, masking, UTF-8 validation, the size limit and the close handshake on the wire; the
 * session owns the rules (which reason, which error, pings, backpressure policy). Connections report through a
 * plain callback `Listener` rather than Effects, because it sits on the per-message hot path.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { WebSocketException } from "./Errors.js"

/**
 * Something an engine can do; a setting that needs a capability the engine lacks fails the connection.
 *
 * @since 0.1.0
 * @category models
 */
export type Capability =
  | typeof WebSocketCapability
  | typeof WebSocketExtensionsCapability
  | typeof HeadersCapability
  | typeof PingCapability
  | typeof MaxFrameSizeCapability
  | typeof ProtocolsCapability

/**
 * The engine can open WebSocket connections at all.
 *
 * @since 0.1.0
 * @category capabilities
 */
export const WebSocketCapability = "WebSocketCapability" as const

/**
 * The engine can negotiate extensions (permessage-deflate).
 *
 * @since 0.1.0
 * @category capabilities
 */
export const WebSocketExtensionsCapability = "WebSocketExtensionsCapability" as const

/**
 * The engine can send custom handshake headers.
 *
 * @since 0.1.0
 * @category capabilities
 */
export const HeadersCapability = "HeadersCapability" as const

/**
 * The engine can send pings and report pongs.
 *
 * @since 0.1.0
 * @category capabilities
 */
export const PingCapability = "PingCapability" as const

/**
 * The engine can enforce a maximum message size.
 *
 * @since 0.1.0
 * @category capabilities
 */
export const MaxFrameSizeCapability = "MaxFrameSizeCapability" as const

/**
 * The engine can offer subprotocols.
 *
 * @since 0.1.0
 * @category capabilities
 */
export const ProtocolsCapability = "ProtocolsCapability" as const

/**
 * Every capability, for engines that support them all.
 *
 * @since 0.1.0
 * @category capabilities
 */
export const allCapabilities: ReadonlySet<Capability> = new Set<Capability>([
  WebSocketCapability,
  WebSocketExtensionsCapability,
  HeadersCapability,
  PingCapability,
  MaxFrameSizeCapability,
  ProtocolsCapability
])

/**
 * permessage-deflate settings (RFC 7692) as offered by the client.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeflateOptions {
  readonly clientNoContextTakeover?: boolean | undefined
  readonly serverNoContextTakeover?: boolean | undefined
  readonly compressionLevel?: number | undefined
  readonly compressIfBiggerThan?: number | undefined
}

/**
 * What the session asks an engine to open.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectRequest {
  /** ws: or wss: URL; may carry user info, which engines send as Basic authorization. */
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly protocols: ReadonlyArray<string>
  /** Largest message (after reassembly and inflation) the engine accepts, in bytes. */
  readonly maxFrameSize: number
  readonly deflate: DeflateOptions | undefined
  readonly connectTimeout: Duration.Duration
}

/**
 * Why the engine gave up on the peer's traffic.
 *
 * @since 0.1.0
 * @category models
 */
export type Violation = "Protocol" | "FrameTooBig"

/**
 * Events of an open connection, called synchronously by the engine.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  /**
   * The handshake succeeded. Engines call this synchronously before any other event, so the session can answer a
   * Ping that arrives before `connect` has resumed its fiber.
   */
  readonly onOpen: (connection: Connection) => void
  /** A whole data message: a string for text, bytes for binary. */
  readonly onMessage: (data: string | Uint8Array) => void
  readonly onPing: (payload: Uint8Array) => void
  readonly onPong: (payload: Uint8Array) => void
  /** The peer broke the protocol or sent too much; `code` is the close code to answer with. */
  readonly onViolation: (violation: Violation, code: number, message: string) => void
  /**
   * The peer's Close frame has arrived (engines that can tell it apart from the end of the transport call this
   * before `onClose`; `code` as for `onClose`). From here on nothing more may be written.
   */
  readonly onCloseFrame?: (code: number, reason: string) => void
  /**
   * The connection is gone. `code` is the peer's close code (1005 when its Close had none), or 1006 when the
   * connection ended without a Close frame from the peer.
   */
  readonly onClose: (code: number, reason: string) => void
}

/**
 * The answer to the upgrade request.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handshake {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly protocol: string
  readonly extensions: string
}

/**
 * An open connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  readonly handshake: Handshake
  /** Sends a data frame; `onWritten` runs once the frame is handed to the transport (or it failed). */
  readonly send: (data: string | Uint8Array, fin: boolean, onWritten?: (error?: Error) => void) => void
  readonly ping: (payload: Uint8Array) => void
  readonly pong: (payload: Uint8Array) => void
  /**
   * `false` when the transport cannot send Ping or Pong frames at all (the standard `WebSocket` API, whose
   * runtime answers Pings itself): sending one fails with `Capability` instead of being dropped.
   */
  readonly controlFrames?: boolean | undefined
  /** Starts the closing handshake; `onClose` fires when the peer answers or the transport ends. */
  readonly close: (code: number, reason: string) => void
  /** Drops the transport at once, without a Close frame. */
  readonly terminate: () => void
  /** Stops reading from the transport (backpressure) until `resume`. */
  readonly pause: () => void
  readonly resume: () => void
  /** Bytes queued for writing and not yet taken by the transport. */
  readonly bufferedAmount: () => number
  /**
   * Calls `onDrained` once everything queued has been handed to the transport (or the transport has ended), on an
   * event rather than by polling. May return a function that unregisters `onDrained` (an interrupted flush).
   */
  readonly flush: (onDrained: () => void) => void | (() => void)
}

/**
 * An engine.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Names the engine in metrics and spans (tag `engine`): "node", "test", "browser"; default "custom". */
  readonly name?: string | undefined
  readonly capabilities: ReadonlySet<Capability>
  /**
   * Opens a connection and performs the opening handshake. `listener` is attached before any frame can
   * arrive. Interrupting the effect aborts the attempt.
   */
  readonly connect: (request: ConnectRequest, listener: Listener) => Effect.Effect<Connection, WebSocketException>
}

/**
 * The transport tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Engine extends Context.Tag("effect-websockets/Engine")<Engine, Service>() {}
