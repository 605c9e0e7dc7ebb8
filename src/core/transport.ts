/**
 * The engine seam in plain callback form, with no Effect in it: what a session asks a transport to open
 * (`ConnectRequest`), the events a connection reports (`Listener`), what an open connection can do (`Connection`),
 * and how an attempt ends (`done` with an `Opened` connection or a `ConnectFailure` description). The public module
 * `Engine.ts` re-exports these types; `NodeEngine` and `BrowserEngine` wrap the transports built on them
 * (nodeTransport.ts, browserTransport.ts) in Effects, and turn a `ConnectFailure` into a `WebSocketException` in one
 * function (internal/handshakeErrors.ts), so that the same failure reads the same on every engine.
 */

/**
 * permessage-deflate settings (RFC 7692) as offered by the client.
 */
export interface DeflateOptions {
  readonly clientNoContextTakeover?: boolean | undefined
  readonly serverNoContextTakeover?: boolean | undefined
  readonly compressionLevel?: number | undefined
  readonly compressIfBiggerThan?: number | undefined
}

/** What the session asks an engine to open. */
export interface ConnectRequest {
  /** ws: or wss: URL; may carry user info, which engines send as Basic authorization. */
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly protocols: ReadonlyArray<string>
  /** Largest message (after reassembly and inflation) the engine accepts, in bytes. */
  readonly maxFrameSize: number
  readonly deflate: DeflateOptions | undefined
}

/** Why the engine gave up on the peer's traffic. */
export type Violation = "Protocol" | "FrameTooBig"

/** Events of an open connection, called synchronously by the engine. */
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

/** The answer to the upgrade request. */
export interface Handshake {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly protocol: string
  readonly extensions: string
}

/** An open connection. */
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
 * Why an attempt did not open, as plain data: the Effect side words it (internal/handshakeErrors.ts `fromFailure`),
 * redacting the URL there, once.
 */
export type ConnectFailure =
  /** The server answered the upgrade with another status than 101. */
  | { readonly _tag: "UnexpectedStatus"; readonly status: number }
  /** The server answered 101 without the upgrade headers (the answer's headers, to name what was missing). */
  | {
    readonly _tag: "NotUpgraded"
    readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  }
  /** The 101 answer broke a rule of the opening handshake; `problem` is the rule as `ws` words it. */
  | {
    readonly _tag: "AnswerRejected"
    readonly problem: string
    readonly offered: ReadonlyArray<string>
    readonly chosen: string | undefined
  }
  /** The answer was not HTTP at all (`code`: Node's `HPE_*` parser code). */
  | { readonly _tag: "MalformedAnswer"; readonly code: string; readonly cause: unknown }
  /** A transport failure before any answer (refused, unreachable, DNS, TLS), with the system's error code. */
  | {
    readonly _tag: "TransportFailed"
    readonly code: string | undefined
    readonly message: string
    readonly cause: unknown
  }
  /** The runtime reported the failure in words only (or not at all: `detail` then says so). */
  | { readonly _tag: "Unreachable"; readonly detail: string }
  /** The runtime refused to start the attempt (its constructor threw). */
  | { readonly _tag: "Refused"; readonly cause: unknown }
  /** The engine refused a setting before trying (`cause`: what it threw). */
  | { readonly _tag: "NotStarted"; readonly cause: unknown }
  /** The connection ended before the handshake did. */
  | { readonly _tag: "ClosedDuringHandshake" }
  /** The engine cannot honour `setting`; `why` names what it lacks. */
  | { readonly _tag: "Unsupported"; readonly setting: string; readonly why: string }

/** The open connection an attempt ends with. */
export interface Opened {
  readonly _tag: "Opened"
  readonly connection: Connection
}

/** How an attempt ends: called once, never after `abort`. */
export type Done = (outcome: Opened | ConnectFailure) => void

/** Stops an attempt that has not ended (nothing happens after it ended): no socket is left behind. */
export type Abort = () => void

/**
 * A transport: opens a connection for `request`, reporting its events to `listener` (attached before any frame can
 * arrive; `onOpen` runs before `done`), and the end of the attempt to `done`.
 */
export type Connect = (request: ConnectRequest, listener: Listener, done: Done) => Abort
