/**
 * The transport seam. The session logic talks only to this interface; engines (`NodeEngine` over `ws`,
 * `BrowserEngine` over the standard `WebSocket`, `TestEngine` in memory) implement it. Its types are defined once,
 * Effect-free, in the package's protocol core (src/core/transport.ts, where each member is documented), and
 * declared here under their public names; each one's summary below lists its members.
 *
 * An engine owns framing, masking, UTF-8 validation, the size limit and the close handshake on the wire; the
 * session owns the rules (which reason, which error, pings, backpressure policy). Connections report through a
 * plain callback `Listener` rather than Effects, because it sits on the per-message hot path.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Transport from "./core/transport.js"
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
export interface DeflateOptions extends Transport.DeflateOptions {}

/**
 * What the session asks an engine to open: `url` (ws: or wss:, may carry user info, which engines send as Basic
 * authorization), `headers`, `protocols`, `maxFrameSize` (the largest message, after reassembly and inflation, the
 * engine accepts, in bytes) and `deflate`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectRequest extends Transport.ConnectRequest {}

/**
 * Why the engine gave up on the peer's traffic.
 *
 * @since 0.1.0
 * @category models
 */
export type Violation = Transport.Violation

/**
 * Events of an open connection, called synchronously by the engine: `onOpen` (before any other event, so that the
 * session can answer a Ping that arrives before `connect` has resumed), `onMessage` (a whole data message),
 * `onPing`, `onPong`, `onViolation` (the peer broke the protocol or sent too much; `code` is the close code to
 * answer with), `onCloseFrame` (the peer's Close frame has arrived; nothing more may be written) and `onClose` (the
 * connection is gone: the peer's code, 1005 when its Close had none, or 1006 without a Close frame).
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener extends Transport.Listener {}

/**
 * The answer to the upgrade request.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handshake extends Transport.Handshake {}

/**
 * An open connection: `send` (a data frame; `onWritten` once handed to the transport), `ping`, `pong`, `close`
 * (starts the closing handshake), `terminate` (drops the transport without a Close), `pause` / `resume` (reading,
 * for backpressure), `bufferedAmount`, `flush` (calls back once everything queued is written, on an event), and
 * `controlFrames: false` where the transport cannot send Ping or Pong frames at all.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection extends Transport.Connection {}

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
