/**
 * effect-websockets: a WebSocket client for Effect, after Ktor's client WebSockets plugin.
 *
 * Every module is also its own subpath (`effect-websockets/Frame`, …).
 *
 * @since 0.1.0
 */

/**
 * The plugin: config, layer, builders.
 *
 * @since 0.1.0
 */
export * as WebSockets from "./Layer.js"

/**
 * The session model.
 *
 * @since 0.1.0
 */
export * as Session from "./Session.js"

/**
 * Frames.
 *
 * @since 0.1.0
 */
export * as Frame from "./Frame.js"

/**
 * Content converters.
 *
 * @since 0.1.0
 */
export * as Converter from "./Converter.js"

/**
 * The engine seam and capabilities.
 *
 * @since 0.1.0
 */
export * as Engine from "./Engine.js"

/**
 * The Node engine over `ws`.
 *
 * @since 0.1.0
 */
export * as NodeEngine from "./NodeEngine.js"

/**
 * The engine over the standard `WebSocket` class (browsers, Deno, Bun, workers).
 *
 * @since 0.1.0
 */
export * as BrowserEngine from "./BrowserEngine.js"

/**
 * The in-memory engine for tests.
 *
 * @since 0.1.0
 */
export * as TestEngine from "./TestEngine.js"

export {
  /**
   * Why a session ended: a close code and message.
   *
   * @since 0.1.0
   */
  CloseReason
} from "./CloseReason.js"

export {
  /**
   * `sendSerialized` / `receiveDeserialized` / `incomingDeserialized` without a content converter installed.
   *
   * @since 0.1.0
   */
  WebsocketConverterNotFoundException,
  /**
   * A `WebsocketContentConverter` could not decode a frame.
   *
   * @since 0.1.0
   */
  WebsocketDeserializeException,
  /**
   * The transport and protocol failures of a session, told apart by `reason`.
   *
   * @since 0.1.0
   */
  WebSocketException
} from "./Errors.js"

export type {
  /**
   * The kinds of `WebSocketException`.
   *
   * @since 0.1.0
   */
  WebSocketExceptionReason
} from "./Errors.js"

/**
 * Reconnecting sessions: the status, the options, the retry rules (`WebSockets.reconnecting`).
 *
 * @since 0.1.0
 */
export * as Reconnecting from "./Reconnecting.js"
