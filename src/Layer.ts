/**
 * The plugin: configuration, the `WebSockets` layer, and the builders that open sessions
 * (`webSocketSession`, `webSocket`, `ws`, `wss`), after Ktor's client `WebSockets` plugin.
 *
 * @since 0.1.0
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Socket from "@effect/platform/Socket"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { CloseReason, normal } from "./CloseReason.js"
import type { WebsocketContentConverter } from "./Converter.js"
import * as Engine from "./Engine.js"
import { WebSocketException } from "./Errors.js"
import * as Metrics from "./internal/metrics.js"
import * as observer from "./internal/observer.js"
import * as internalReconnecting from "./internal/reconnecting.js"
import { InvalidRequest, resolveEither, type Scheme } from "./internal/request.js"
import * as internal from "./internal/session.js"
import * as internalSocket from "./internal/socket.js"
import type { DefaultClientWebSocketSession } from "./Session.js"

/**
 * What a session connects to: a `ws(s)://` or `http(s)://` string or `URL`, an `HttpClientRequest`, or the object
 * form (`RequestOptions`).
 *
 * @since 0.1.0
 * @category models
 */
export type Request = string | URL | HttpClientRequest.HttpClientRequest | RequestOptions

/**
 * The object form of a request (Ktor's `host`, `port`, `path` and request builder): `url`, `method` (only `"GET"`),
 * `host`, `port`, `path` (with an optional `?query`), `headers` (values may be `Redacted`), `protocols`.
 *
 * Declared here, in a public module, so that declarations emitted by users name it `WebSockets.RequestOptions` (a
 * subpath the package exports), never by an internal path; internal/request.ts imports it from here.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions {
  readonly url?: string | URL | undefined
  readonly method?: "GET" | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly path?: string | undefined
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted>> | undefined
  readonly protocols?: ReadonlyArray<string> | undefined
}

/**
 * Options of `socket` / `layerSocket`: `closeCodeIsError` (which close codes fail a run; default all but 1000 and
 * 1006, as on the platform).
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketOptions extends internalSocket.SocketOptions {}

/**
 * Pass as `pingInterval` to turn the pinger off.
 *
 * @since 0.1.0
 * @category constants
 */
export const PINGER_DISABLED = 0

/**
 * The default `maxFrameSize`: 100 MiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024

/**
 * The plugin's settings as a user writes them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Interval between pings; omitted, 0 or `PINGER_DISABLED`: no pinger. */
  readonly pingInterval?: Duration.DurationInput | undefined
  /** How long to wait for a Pong; default 2 × `pingInterval` (15 s when the pinger is off). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Largest incoming message, in bytes; default 100 MiB. */
  readonly maxFrameSize?: number | undefined
  /** TCP connect + TLS + upgrade answer; default 10 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly contentConverter?: WebsocketContentConverter | undefined
  readonly extensions?: ExtensionsOptions | undefined
  /** Record the `websockets.*` metrics (see `metrics`); default true. Spans follow Effect's own tracer settings. */
  readonly metrics?: boolean | undefined
}

/**
 * Extensions to negotiate.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExtensionsOptions {
  readonly deflate?: boolean | Engine.DeflateOptions | undefined
}

/**
 * The resolved settings of an installed plugin.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebSocketsConfig {
  readonly pingInterval: Option.Option<Duration.Duration>
  readonly timeout: Duration.Duration
  readonly maxFrameSize: number
  readonly connectTimeout: Duration.Duration
  readonly contentConverter: Option.Option<WebsocketContentConverter>
  readonly extensions: { readonly deflate: Option.Option<Engine.DeflateOptions> }
  /** Whether sessions record the `websockets.*` metrics. */
  readonly metrics: boolean
}

/**
 * The installed plugin.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly config: WebSocketsConfig
  readonly engine: Engine.Service
}

/**
 * The tag of the installed plugin.
 *
 * @since 0.1.0
 * @category tags
 */
export class WebSockets extends Context.Tag("effect-websockets/WebSockets")<WebSockets, Service>() {}

const invalid = (field: string, problem: string): never => {
  throw new Cause.IllegalArgumentException(`Invalid WebSockets config: ${field} ${problem}`)
}

const isNegative = (input: Duration.DurationInput): boolean =>
  (typeof input === "number" && input < 0) ||
  (typeof input === "bigint" && input < 0n) ||
  (typeof input === "string" && input.trim().startsWith("-")) ||
  (Array.isArray(input) && (input[0] < 0 || input[1] < 0))

const decodeDuration = (field: string, input: Duration.DurationInput): Duration.Duration => {
  if (isNegative(input)) return invalid(field, `must not be negative (got ${String(input)})`)
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded)) return invalid(field, `is not a duration (got ${String(input)})`)
  return decoded.value
}

/**
 * Resolves and checks the settings; throws `IllegalArgumentException` naming the bad field.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveConfig = (options: Options = {}): WebSocketsConfig => {
  const interval = options.pingInterval === undefined
    ? Duration.zero
    : decodeDuration("pingInterval", options.pingInterval)
  const pingInterval = Duration.toMillis(interval) > 0 ? Option.some(interval) : Option.none()
  const timeout = options.timeout === undefined
    ? Option.match(pingInterval, { onNone: () => Duration.seconds(15), onSome: (i) => Duration.times(i, 2) })
    : decodeDuration("timeout", options.timeout)
  if (Option.isSome(pingInterval) && Duration.toMillis(timeout) <= 0) invalid("timeout", "must be positive")
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE
  if (!Number.isSafeInteger(maxFrameSize) || maxFrameSize < 1) {
    invalid("maxFrameSize", `must be a whole number of bytes >= 1 (got ${maxFrameSize})`)
  }
  const connectTimeout = options.connectTimeout === undefined
    ? Duration.seconds(10)
    : decodeDuration("connectTimeout", options.connectTimeout)
  if (Duration.toMillis(connectTimeout) <= 0) invalid("connectTimeout", "must be positive")
  const deflate = options.extensions?.deflate
  if (typeof deflate === "object" && deflate.compressionLevel !== undefined) {
    const level = deflate.compressionLevel
    if (!Number.isInteger(level) || level < -1 || level > 9) {
      invalid("extensions.deflate.compressionLevel", `must be an integer from -1 to 9 (got ${level})`)
    }
  }
  return {
    pingInterval,
    timeout,
    maxFrameSize,
    connectTimeout,
    contentConverter: Option.fromNullable(options.contentConverter),
    extensions: {
      deflate: deflate === undefined || deflate === false
        ? Option.none()
        : Option.some(deflate === true ? {} : deflate)
    },
    metrics: options.metrics ?? true
  }
}

/**
 * Installs the plugin. Bad settings are a defect at layer build, with a message naming the field.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Converter, NodeEngine, WebSockets } from "effect-websockets"
 *
 * export const MainLive = WebSockets.layer({
 *   pingInterval: "20 seconds",
 *   maxFrameSize: 1024 * 1024,
 *   contentConverter: Converter.json
 * }).pipe(Layer.provide(NodeEngine.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<WebSockets, never, Engine.Engine> =>
  Layer.effect(
    WebSockets,
    // an invalid option is a programmer mistake: `Effect.sync` turns the throw into a defect
    Effect.flatMap(
      Effect.sync(() => resolveConfig(options)),
      (config) => Effect.map(Engine.Engine, (engine) => ({ config, engine }))
    )
  )

/**
 * A value that is there, trimmed; an empty one is a ConfigError (a variable set to "" is a mistake, not a 0). The
 * messages name the setting as `layer` does (`field`) beside the variable that the error's path names.
 */
const present = (name: string, field: string): Config.Config<string> =>
  Config.mapOrFail(Config.string(name), (raw) => {
    const value = raw.trim()
    return value === ""
      ? Either.left(ConfigError.InvalidData([], `Invalid WebSockets config: ${field} is empty`))
      : Either.right(value)
  })

/**
 * A duration as text, handed to `resolveConfig` as it was written: `Config.duration` would read "-5 seconds" as zero
 * (Effect's Duration clamps negatives) and so hide the mistake that `layer` reports. Text that is no duration even
 * without its minus sign is a ConfigError.
 */
const durationText = (name: string, field: string): Config.Config<Duration.DurationInput> =>
  Config.mapOrFail(present(name, field), (value) =>
    Option.isSome(Duration.decodeUnknown(value.replace(/^-\s*/, "")))
      ? Either.right(value as Duration.DurationInput)
      : Either.left(
        ConfigError.InvalidData(
          [name],
          `Invalid WebSockets config: ${field} is not a duration such as "20 seconds" (got ${value})`
        )
      ))

/** A whole number as written (its range is `resolveConfig`'s to check, as for `layer`); anything else a ConfigError. */
const wholeNumber = (name: string, field: string): Config.Config<number> =>
  Config.mapOrFail(present(name, field), (value) =>
    /^[+-]?\d+$/.test(value)
      ? Either.right(Number(value))
      : Either.left(
        ConfigError.InvalidData(
          [name],
          `Invalid WebSockets config: ${field} is not a whole number of bytes (got ${value})`
        )
      ))

/**
 * The settings read by `layerConfig` when given no config: `WEBSOCKETS_PING_INTERVAL`, `WEBSOCKETS_TIMEOUT`,
 * `WEBSOCKETS_MAX_FRAME_SIZE`, `WEBSOCKETS_CONNECT_TIMEOUT` (durations like "20 seconds"), all optional. Values are
 * checked exactly as `layer` checks them (a negative duration is a defect naming the field); a value that cannot be
 * read at all (empty, not a duration, not a whole number) is a `ConfigError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const config: Config.Config<Options> = Config.all({
  pingInterval: Config.option(durationText("PING_INTERVAL", "pingInterval")),
  timeout: Config.option(durationText("TIMEOUT", "timeout")),
  maxFrameSize: Config.option(wholeNumber("MAX_FRAME_SIZE", "maxFrameSize")),
  connectTimeout: Config.option(durationText("CONNECT_TIMEOUT", "connectTimeout"))
}).pipe(
  Config.nested("WEBSOCKETS"),
  Config.map((c) => ({
    pingInterval: Option.getOrUndefined(c.pingInterval),
    timeout: Option.getOrUndefined(c.timeout),
    maxFrameSize: Option.getOrUndefined(c.maxFrameSize),
    connectTimeout: Option.getOrUndefined(c.connectTimeout)
  }))
)

/**
 * Installs the plugin with settings read from `effect/Config` (by default the `WEBSOCKETS_*` variables).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options> = config
): Layer.Layer<WebSockets, ConfigError.ConfigError, Engine.Engine> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(options), layer))

/** Settings the engine must support, each named as it appears in the error. */
const requiredCapabilities = (
  config: WebSocketsConfig,
  request: { readonly headers: Readonly<Record<string, string>>; readonly protocols: ReadonlyArray<string> }
): ReadonlyArray<readonly [Engine.Capability, string]> => {
  const needed: Array<readonly [Engine.Capability, string]> = [[Engine.WebSocketCapability, "WebSockets"]]
  if (Option.isSome(config.extensions.deflate)) needed.push([Engine.WebSocketExtensionsCapability, "extensions"])
  if (Object.keys(request.headers).length > 0) needed.push([Engine.HeadersCapability, "headers"])
  if (request.protocols.length > 0) needed.push([Engine.ProtocolsCapability, "protocols"])
  if (Option.isSome(config.pingInterval)) needed.push([Engine.PingCapability, "pingInterval"])
  if (config.maxFrameSize !== DEFAULT_MAX_FRAME_SIZE) needed.push([Engine.MaxFrameSizeCapability, "maxFrameSize"])
  return needed
}

const open = (
  request: Request,
  scheme: Scheme | undefined
): Effect.Effect<DefaultClientWebSocketSession, WebSocketException, WebSockets | Scope.Scope> =>
  Effect.flatMap(WebSockets, ({ config, engine }) => {
    // the rules live in core/request.ts; a refused request is a typed `Connect` failure
    const resolved = resolveEither(request, scheme)
    if (resolved instanceof InvalidRequest) return Effect.fail(WebSocketException.invalidRequest(resolved.message))
    for (const [capability, setting] of requiredCapabilities(config, resolved)) {
      if (!engine.capabilities.has(capability)) {
        return Effect.fail(WebSocketException.capability(setting, `it lacks ${capability}`))
      }
    }
    const connectRequest: Engine.ConnectRequest = {
      ...resolved,
      maxFrameSize: config.maxFrameSize,
      deflate: Option.getOrUndefined(config.extensions.deflate)
    }
    const timeoutError = () => WebSocketException.timeout(config.connectTimeout)
    const observe = observer.make(engine, resolved.url, config.metrics !== false)
    return internal.make(
      config,
      resolved.url,
      (listener) =>
        engine.connect(connectRequest, listener).pipe(
          Effect.timeoutFail({ duration: config.connectTimeout, onTimeout: timeoutError }),
          (connect) => observer.connect(observe, connect) // the spans websockets.connect and websockets.session
        ),
      observe
    )
  })

/**
 * Opens a session tied to the current scope. When the scope closes with the session still open, it sends
 * Close(1000 NORMAL) and waits for the peer's Close (at most 5 s, then drops the connection).
 *
 * @since 0.1.0
 * @category constructors
 */
export const webSocketSession = (
  request: Request
): Effect.Effect<DefaultClientWebSocketSession, WebSocketException, WebSockets | Scope.Scope> =>
  open(request, undefined)

const closeReasonFor = (exit: Exit.Exit<unknown, unknown>): CloseReason =>
  Exit.isSuccess(exit)
    ? normal
    : Cause.isInterruptedOnly(exit.cause)
    ? new CloseReason({ code: CloseReason.Codes.GOING_AWAY, message: "" })
    : new CloseReason({ code: CloseReason.Codes.INTERNAL_ERROR, message: "" })

const run = <A, E, R>(
  request: Request,
  scheme: Scheme | undefined,
  f: (session: DefaultClientWebSocketSession) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | WebSocketException, WebSockets | Exclude<R, Scope.Scope>> =>
  Effect.scoped(
    // no interruption between the session opening and `onExit` taking over: an interruption there would
    // close the scope with 1000 instead of 1001
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(open(request, scheme)), (session) =>
        Effect.onExit(restore(f(session)), (exit) =>
          // the close code tells the peer how the block ended: 1000 success, 1011 failure, 1001 interruption
          Effect.sync(() => internal.closeWith(session, closeReasonFor(exit)))))
    )
  ) as Effect.Effect<A, E | WebSocketException, WebSockets | Exclude<R, Scope.Scope>>

/**
 * Opens a session, runs `f` with it, then closes it: Close(1000) on success, Close(1011) when `f` fails (its
 * error passes through unchanged), Close(1001) when interrupted.
 *
 * @example
 * ```ts
 * import { Console, Effect, Layer } from "effect"
 * import { Frame, NodeEngine, WebSockets } from "effect-websockets"
 *
 * const program = WebSockets.webSocket("ws://127.0.0.1:9001/echo", (session) =>
 *   Effect.gen(function*() {
 *     yield* session.send("Hello WebSocket!")
 *     const frame = yield* session.receive
 *     yield* Console.log(Frame.readText(frame))
 *   }))
 *
 * program.pipe(Effect.provide(WebSockets.layer().pipe(Layer.provide(NodeEngine.layer))), Effect.runFork)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const webSocket = <A, E, R>(
  request: Request,
  f: (session: DefaultClientWebSocketSession) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | WebSocketException, WebSockets | Exclude<R, Scope.Scope>> => run(request, undefined, f)

/**
 * `webSocket` over plain `ws://` (default port 80).
 *
 * @since 0.1.0
 * @category constructors
 */
export const ws = <A, E, R>(
  request: Request,
  f: (session: DefaultClientWebSocketSession) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | WebSocketException, WebSockets | Exclude<R, Scope.Scope>> => run(request, "ws", f)

/**
 * `webSocket` over TLS, `wss://` (default port 443).
 *
 * @since 0.1.0
 * @category constructors
 */
export const wss = <A, E, R>(
  request: Request,
  f: (session: DefaultClientWebSocketSession) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | WebSocketException, WebSockets | Exclude<R, Scope.Scope>> => run(request, "wss", f)

// ---------------------------------------------------------------------------------------------------------------
// In the Effect ecosystem: a platform `Socket`, spans and metrics

/**
 * `@effect/platform`'s `Socket.Socket` backed by this client: each `run` / `runRaw` opens a session to `request` with
 * the plugin's settings (pinger, `maxFrameSize`, backpressure), and the library's `WebSocketException` stays the
 * `cause` of the `SocketError`s it raises. A session still open when the scope closes is closed (1000). See the
 * README, "A Socket for @effect/rpc".
 *
 * @since 0.1.0
 * @category constructors
 */
export const socket = (
  request: Request,
  options?: SocketOptions
): Effect.Effect<Socket.Socket, never, WebSockets | Scope.Scope> =>
  Effect.flatMap(
    WebSockets,
    (service) => internalSocket.make(Effect.provideService(webSocketSession(request), WebSockets, service), options)
  )

/**
 * `socket(request)` as the layer of `Socket.Socket`, e.g. under `RpcClient.layerProtocolSocket()`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSocket = (
  request: Request,
  options?: SocketOptions
): Layer.Layer<Socket.Socket, never, WebSockets> => Layer.scoped(Socket.Socket, socket(request, options))

/**
 * The `websockets.*` metrics, untagged. Every session records into them tagged `engine=<name>` ("node", "test",
 * "browser"), so read one engine's value with `Metric.tagged("engine", "node")`, or list all of them with
 * `Metric.snapshot`. Messages are data messages (Text, Binary); bytes are payload bytes (UTF-8 length of a text,
 * before compression, no frame headers). `WebSockets.layer({ metrics: false })` turns recording off.
 *
 * @since 0.1.0
 * @category observability
 */
export const metrics = Metrics.metrics

/**
 * The bucket boundaries of `websockets.ping.rtt` (milliseconds), for `Metric.histogram("websockets.ping.rtt", …)`.
 *
 * @since 0.1.0
 * @category observability
 */
export const pingRttBoundaries = Metrics.pingRttBoundaries

/**
 * The spans a session records with Effect's `Tracer`: `websockets.connect` around each handshake and
 * `websockets.session` over the session's life, with the attributes named in `spanAttributes`.
 *
 * @since 0.1.0
 * @category observability
 */
export const spans = { connect: observer.CONNECT_SPAN, session: observer.SESSION_SPAN } as const

/**
 * The attribute names of the spans (`websockets.url` is the URL with any password redacted).
 *
 * @since 0.1.0
 * @category observability
 */
export const spanAttributes = observer.Attributes

// Reconnecting sessions: the model and rules in Reconnecting.ts, the state machine in internal/reconnecting.ts

import type { ReconnectingOptions, ReconnectingSession } from "./Reconnecting.js"

export type {
  /**
   * How `reconnecting` behaves: `schedule`, `bufferSize`, `overflow`, `onOpen`.
   *
   * @since 0.1.0
   * @category models
   */
  ReconnectingOptions,
  /**
   * One logical session over successive connections.
   *
   * @since 0.1.0
   * @category models
   */
  ReconnectingSession
} from "./Reconnecting.js"

export {
  /**
   * The default `schedule` of `reconnecting`: exponential from 500 ms, jittered by ±20%, capped at 30 s, forever.
   *
   * @since 0.1.0
   * @category constants
   */
  defaultSchedule as defaultReconnectSchedule,
  /**
   * Where a reconnecting session stands: `Connecting`, `Open`, `Reconnecting`, `Closed` (constructors, `$is`,
   * `$match`).
   *
   * @since 0.1.0
   * @category models
   */
  Status
} from "./Reconnecting.js"

/**
 * One logical session over successive connections: `incoming` survives reconnects, sends wait in a bounded buffer
 * while no connection is open, `status` tells where it stands. What reconnects (drops, ping timeouts, connect
 * failures, 408/429/5xx, peer Close 1001/1011/1012/1013/1014) and what never does is listed in `Reconnecting`.
 * The connections close with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reconnecting = <E = never, R = never>(
  request: Request,
  options: ReconnectingOptions<E, R> = {}
): Effect.Effect<ReconnectingSession, never, WebSockets | Scope.Scope | R> =>
  internalReconnecting.make({ tag: WebSockets, open: webSocketSession }, request, options)
