/**
 * The Node engine: connections over the `ws` package, which does the framing, masking, UTF-8 validation,
 * size limit and permessage-deflate. This module is the Effect side only (the layers, the TLS options with
 * `Redacted` unwrapped, interruption as abort); the transport itself is Effect-free, in src/core/nodeTransport.ts,
 * the only module that imports `ws`.
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type { ConnectionOptions } from "node:tls"
import * as NodeTransport from "./core/nodeTransport.js"
import * as Engine from "./Engine.js"
import * as HandshakeErrors from "./internal/handshakeErrors.js"

const connect = (request: Engine.ConnectRequest, listener: Engine.Listener) =>
  HandshakeErrors.connect(NodeTransport.connect, request, listener)

/**
 * The engine over `ws`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Engine.Service = {
  name: "node",
  capabilities: Engine.allCapabilities,
  connect
}

/**
 * The Node engine as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Engine.Engine> = Layer.succeed(Engine.Engine, make)

/**
 * TLS settings for `wss://` connections, as Node's `tls.connect` takes them: a custom CA (`ca`), a client certificate
 * (`cert`, `key`, `passphrase`, or `pfx`), `rejectUnauthorized` (default true), the SNI `servername`, and the other
 * usual knobs. The private key and its passphrase may be `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions extends
  Pick<
    ConnectionOptions,
    | "ca"
    | "cert"
    | "pfx"
    | "rejectUnauthorized"
    | "servername"
    | "checkServerIdentity"
    | "minVersion"
    | "maxVersion"
    | "ciphers"
    | "ecdhCurve"
    | "crl"
  >
{
  readonly key?: ConnectionOptions["key"] | Redacted.Redacted<string | Buffer> | undefined
  readonly passphrase?: string | Redacted.Redacted<string> | undefined
}

/**
 * Settings of the Node engine.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** TLS settings for `wss://` connections; `ws://` ignores them. */
  readonly tls?: TlsOptions | undefined
}

const tlsConnectionOptions = (tls: TlsOptions): ConnectionOptions => {
  const { key, passphrase, ...rest } = tls
  const out: ConnectionOptions = { ...rest }
  if (key !== undefined) out.key = Redacted.isRedacted(key) ? Redacted.value(key) : key
  if (passphrase !== undefined) {
    out.passphrase = Redacted.isRedacted(passphrase) ? Redacted.value(passphrase) : passphrase
  }
  return out
}

/**
 * The engine over `ws`, with settings. A certificate the client does not accept fails the connection with reason
 * `"Connect"` and a message naming the cause.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (options: Options): Engine.Service => {
  if (options.tls === undefined) return make
  const tls = tlsConnectionOptions(options.tls)
  return {
    name: "node",
    capabilities: Engine.allCapabilities,
    connect: (request, listener) =>
      HandshakeErrors.connect(
        (request, listener, done) => NodeTransport.connect(request, listener, done, tls),
        request,
        listener
      )
  }
}

/**
 * The Node engine as a layer, with settings (TLS for `wss://`):
 * `NodeEngine.layerWith({ tls: { ca, cert, key, rejectUnauthorized, servername } })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<Engine.Engine> =>
  Layer.sync(Engine.Engine, () => makeWith(options))
