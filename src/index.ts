/**
 * effect-websockets: a WebSocket client for Effect, after Ktor's client WebSockets plugin.
 *
 * @since 0.1.0
 */

/** The plugin: config, layer, builders. @since 0.1.0 */
export * as WebSockets from "./Layer.js"

/** The session model. @since 0.1.0 */
export * as Session from "./Session.js"

/** Frames. @since 0.1.0 */
export * as Frame from "./Frame.js"

/** Content converters. @since 0.1.0 */
export * as Converter from "./Converter.js"

/** The engine seam and capabilities. @since 0.1.0 */
export * as Engine from "./Engine.js"

/** The Node engine over `ws`. @since 0.1.0 */
export * as NodeEngine from "./NodeEngine.js"

/** The engine over the standard `WebSocket` class (browsers, Deno, Bun, workers). @since 0.1.0 */
export * as BrowserEngine from "./BrowserEngine.js"

/** The in-memory engine for tests. @since 0.1.0 */
export * as TestEngine from "./TestEngine.js"

/** @since 0.1.0 */
export { CloseReason } from "./CloseReason.js"

/** @since 0.1.0 */
export { WebSocketException, WebsocketConverterNotFoundException, WebsocketDeserializeException } from "./Errors.js"

/** @since 0.1.0 */
export type { WebSocketExceptionReason } from "./Errors.js"
