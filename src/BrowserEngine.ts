/**
 * The engine over the standard `WebSocket` class of browsers, workers, Deno, Bun and Node >= 22
 * (`BrowserEngine.layer`), or over any class with the same API (`BrowserEngine.layerConstructor`, e.g. `ws`'s
 * `WebSocket` on Node 20).
 *
 * The standard API is smaller than what `NodeEngine` can do, and this engine says so instead of pretending
 * (docs/BrowserEngine.md has the table per runtime):
 * - no Ping frames: the runtime answers the peer's Pings itself, and a `pingInterval` fails with `Capability`;
 * - no pausing of reads: messages a slow consumer has not taken stay in memory (the runtime reads on);
 * - request headers only where the constructor takes them (Bun and Deno: `new WebSocket(url, { headers })`);
 * - extensions are the runtime's choice: `deflate: true` where it offers permessage-deflate, no settings;
 * - `maxFrameSize` is judged on each whole message as it arrives (the runtime has buffered it by then);
 * - close codes a runtime refuses to send (browsers and Deno send only 1000 and 3000–4999) go out as
 *   4000 + (code − 1000): 1001 → 4001, 1009 → 4009, 1011 → 4011, with the same reason text;
 * - the handshake's status is read from the runtime's error message where it gives one (Bun, Deno, `ws`);
 *   browsers give none, so a refused upgrade is a `Connect` failure there, like an unreachable server.
 *
 * This module imports nothing from Node and touches no global when imported: the `WebSocket` global is read when
 * the layer is built. It is the Effect side only; the transport itself is Effect-free, in
 * src/core/browserTransport.ts, and its failures read exactly as NodeEngine's for the same cause.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as BrowserTransport from "./core/browserTransport.js"
import * as Engine from "./Engine.js"
import { WebSocketException } from "./Errors.js"
import * as HandshakeErrors from "./internal/handshakeErrors.js"

/**
 * The part of the standard `WebSocket` interface this engine uses: `binaryType`, `bufferedAmount`, `extensions`,
 * `protocol`, `readyState`, `send`, `close` and `addEventListener`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebSocketLike extends BrowserTransport.WebSocketLike {}

/**
 * A class with the standard `WebSocket` constructor: `new C(url, protocols)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebSocketConstructor extends BrowserTransport.WebSocketConstructor {}

/**
 * What a `WebSocket` class can do beyond the standard API, which the engine cannot find out by itself: `headers`
 * (the constructor also takes `new C(url, { headers, protocols })` and sends those headers, as Bun and Deno do;
 * default false) and `deflate` (the class offers permessage-deflate on its own, as browsers, Bun and `ws` do, so
 * `deflate: true` can be honoured).
 *
 * @since 0.1.0
 * @category models
 */
export interface Features extends BrowserTransport.Features {}

/**
 * The engine over the class `C`, which can do what `features` says beyond the standard API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeConstructor = (C: WebSocketConstructor, features: Features = {}): Engine.Service => {
  const capabilities = new Set<Engine.Capability>([
    Engine.WebSocketCapability,
    Engine.ProtocolsCapability,
    // judged on each whole message as it arrives
    Engine.MaxFrameSizeCapability
  ])
  if (features.headers === true) capabilities.add(Engine.HeadersCapability)
  if (features.deflate === true) capabilities.add(Engine.WebSocketExtensionsCapability)
  const transport = BrowserTransport.connect(C, features)
  const connect = (request: Engine.ConnectRequest, listener: Engine.Listener) =>
    HandshakeErrors.connect(transport, request, listener)
  return { name: "browser", capabilities, connect }
}

/**
 * What the global `WebSocket` of the running runtime can do: Bun and Deno take request headers; browsers and Bun
 * offer permessage-deflate, Deno does not.
 *
 * @since 0.1.0
 * @category constructors
 */
export const globalFeatures = (): Features => {
  const isDeno = "Deno" in globalThis
  const isBun = "Bun" in globalThis
  return { headers: isDeno || isBun, deflate: !isDeno }
}

const noGlobal: Engine.Service = {
  name: "browser",
  capabilities: new Set(),
  connect: () =>
    Effect.fail(
      WebSocketException.capability("WebSockets", "this runtime has no global WebSocket (Node < 22): use NodeEngine")
    )
}

/**
 * The engine over the runtime's global `WebSocket`; without one (Node < 22) every connection fails with
 * `Capability`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Engine.Service => {
  const C = (globalThis as { readonly WebSocket?: WebSocketConstructor }).WebSocket
  return C === undefined ? noGlobal : makeConstructor(C, globalFeatures())
}

/**
 * The engine over the runtime's global `WebSocket` (browsers, workers, Deno, Bun, Node >= 22), read when the
 * layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Engine.Engine> = Layer.sync(Engine.Engine, make)

/**
 * The engine over another class with the standard `WebSocket` API, e.g. `ws`'s `WebSocket` on Node 20:
 * `BrowserEngine.layerConstructor(WebSocket, { deflate: true })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConstructor = (C: WebSocketConstructor, features?: Features): Layer.Layer<Engine.Engine> =>
  Layer.sync(Engine.Engine, () => makeConstructor(C, features))
