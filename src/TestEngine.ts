/**
 * An in-memory engine for testing your own programs: no sockets, a scripted server instead.
 *
 * The server answers each handshake (`accept` with a status 101, a protocol and headers, or `refuse` with any
 * status), then runs a `handler` per connection that reads what the client sent (`receive`, `incoming`: data frames
 * and Close, Ping, Pong) and answers (`send`, `close`, `drop`). Its protocol layer answers the client's Pings and
 * Close on its own, like a real server library, unless told to `ignorePings` / `ignoreClose`.
 *
 * The engine keeps the rules of `NodeEngine` (size limit, close handshake, pause), and every wait in the library
 * is an Effect timer, so under `it.effect` a ping timeout or a connect timeout is reached with `TestClock.adjust`.
 * While the session pauses reading (a slow consumer), what the server sends waits in the engine, the server's
 * Pongs and Close included, as they would in the socket. Frames are never encoded, so an agreed extension
 * (`accept({ extensions: "permessage-deflate" })`) only shows in `session.call`.
 *
 * ```ts
 * const TestLive = WebSockets.layer().pipe(Layer.provide(TestEngine.layer({ handler: TestEngine.echo })))
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { CloseReason } from "./CloseReason.js"
import * as Engine from "./Engine.js"
import { WebSocketException } from "./Errors.js"
import * as Frame from "./Frame.js"
import * as HandshakeErrors from "./internal/handshakeErrors.js"
import * as internal from "./internal/testEngine.js"

/**
 * The handshake request as the scripted server sees it: URL, headers, offered protocols and deflate settings,
 * and the client's `maxFrameSize`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerRequest extends internal.ServerRequest {
  // an interface of this module, not an alias of the internal one: the declarations a user's `tsc` emits then name
  // it `TestEngine.ServerRequest`, never by an internal path, which the package does not export (same below)
}

/**
 * The server end of one connection.
 *
 * - `incoming` / `receive`: every frame the client sent, in order: data frames as sent (with `fin`), and the
 *   Close, Ping and Pong frames. `incoming` ends, and `receive` fails with `NoSuchElementException`, once the
 *   connection is gone. Each frame goes to one reader: a handler and a test should not both read.
 * - `received`: every frame the client sent so far, read or not (kept for the life of the connection).
 * - `send`: a string (Text), bytes (Binary) or any `Frame`, including malformed ones to test violations.
 *   Frames sent after the server's Close or after the connection ended go nowhere.
 * - `close(reason)`: sends Close (default 1000 NORMAL). `send(Frame.close())` sends one without a code.
 * - `drop`: ends the connection without a Close: the client sees 1006.
 * - `closed`: waits until the connection is gone.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerConnection extends internal.ServerConnection {
  readonly request: ServerRequest
}

/**
 * The server's answer to a handshake.
 *
 * @since 0.1.0
 * @category models
 */
export type HandshakeAnswer = Accept | Refuse

/**
 * Upgrade the connection (status 101).
 *
 * @since 0.1.0
 * @category models
 */
export interface Accept {
  readonly _tag: "Accept"
  /** The chosen subprotocol; "" for none. */
  readonly protocol: string | undefined
  readonly headers: Readonly<Record<string, string>>
  /** The agreed `Sec-WebSocket-Extensions`, e.g. "permessage-deflate"; "" for none. */
  readonly extensions: string
}

/**
 * Answer the upgrade request with another status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Refuse {
  readonly _tag: "Refuse"
  readonly status: number
}

/**
 * Accepts the handshake. Without a `protocol`, the first one the client offered is chosen (as `ws` servers do).
 *
 * @since 0.1.0
 * @category constructors
 */
export const accept = (options: {
  readonly protocol?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly extensions?: string | undefined
} = {}): HandshakeAnswer => ({
  _tag: "Accept",
  protocol: options.protocol,
  headers: options.headers ?? {},
  extensions: options.extensions ?? ""
})

/**
 * Refuses the handshake with `status`; the client fails with `WebSocketException{ reason: "Handshake", status }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const refuse = (status: number): HandshakeAnswer => ({ _tag: "Refuse", status })

/**
 * How the scripted server behaves.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Answers each handshake; default `accept()`. It may be an Effect: `() => Effect.never` is a server that never
   * answers (the client fails with `Timeout` after `connectTimeout`), failing with a `WebSocketException` makes
   * the connection fail with it (e.g. `reason: "Connect"`).
   */
  readonly handshake?:
    | ((request: ServerRequest) => HandshakeAnswer | Effect.Effect<HandshakeAnswer, WebSocketException>)
    | undefined
  /**
   * Runs for every accepted connection, in its own fiber, interrupted when the server shuts down. When it fails
   * or dies, the server closes the connection with 1011 INTERNAL_ERROR and the failure is raised again (as a
   * defect) when the server shuts down, so that an `expect` inside a handler fails the test.
   */
  readonly handler?: ((connection: ServerConnection) => Effect.Effect<unknown, unknown>) | undefined
  /** Do not answer the client's Pings (default: answer each with a Pong of the same payload). */
  readonly ignorePings?: boolean | undefined
  /**
   * Do not answer the client's Close (default: echo it at once). The script then answers with `close`, or never:
   * the session waits 5 s (an Effect timer) for the answer, then drops the connection.
   */
  readonly ignoreClose?: boolean | undefined
  /** What the engine claims to support; default `Engine.allCapabilities`. */
  readonly capabilities?: Iterable<Engine.Capability> | undefined
}

/**
 * A running test server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The engine connecting to this server. */
  readonly engine: Engine.Service
  /** Every accepted connection, in order (whether or not a `handler` runs for it). */
  readonly connections: Queue.Dequeue<ServerConnection>
}

/**
 * The tag of the test server provided by `layer`.
 *
 * @since 0.1.0
 * @category tags
 */
export class TestServer extends Context.Tag("effect-websockets/TestEngine/TestServer")<TestServer, Service>() {}

const upgradeHeaders = (protocol: string, answer: Accept): Record<string, string> => {
  const headers: Record<string, string> = { upgrade: "websocket", connection: "Upgrade" }
  if (protocol !== "") headers["sec-websocket-protocol"] = protocol
  if (answer.extensions !== "") headers["sec-websocket-extensions"] = answer.extensions
  for (const [name, value] of Object.entries(answer.headers)) headers[name.toLowerCase()] = value
  return headers
}

/** The same error NodeEngine gives for the same broken answer (see internal/handshakeErrors.ts). */
const handshakeError = (request: ServerRequest, message: string, protocol: string) =>
  HandshakeErrors.answerRejected(request.url, message, request.protocols, protocol)

/** Checks an accepted handshake the way `ws` checks a server's answer; returns the problem, if any. */
const checkAnswer = (request: ServerRequest, protocol: string, answer: Accept): string | undefined => {
  if (request.protocols.length === 0 && protocol !== "") return "Server sent a subprotocol but none was requested"
  if (request.protocols.length > 0 && protocol === "") return "Server sent no subprotocol"
  if (protocol !== "" && !request.protocols.includes(protocol)) return "Server sent an invalid subprotocol"
  if (answer.extensions !== "" && request.deflate === undefined) {
    return "Server indicated an extension that was not requested"
  }
  return undefined
}

/**
 * Starts a test server and the engine connecting to it; both stop with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const fibers = yield* FiberSet.make()
    const connections = yield* Queue.unbounded<ServerConnection>()
    const failures: Array<Cause.Cause<unknown>> = []
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        FiberSet.clear(fibers),
        failures.length === 0 ? Effect.void : Effect.die(Cause.squash(failures[0]!))
      )
    )
    const behaviour: internal.Behaviour = {
      ignorePings: options.ignorePings ?? false,
      ignoreClose: options.ignoreClose ?? false
    }
    const answerOf = (request: ServerRequest): Effect.Effect<HandshakeAnswer, WebSocketException> => {
      if (options.handshake === undefined) return Effect.succeed(accept())
      const answer = options.handshake(request)
      // a server that never answers must stay interruptible, or `connectTimeout` could not end the attempt
      return Effect.isEffect(answer) ? Effect.interruptible(answer) : Effect.succeed(answer)
    }
    const runHandler = (connection: internal.TestConnection, handler: NonNullable<Options["handler"]>) =>
      Effect.interruptible(Effect.suspend(() => handler(connection.server()))).pipe(
        Effect.catchAllCause((cause) => {
          if (Cause.isInterruptedOnly(cause)) return Effect.void
          failures.push(cause)
          return connection.server().close(new CloseReason({ code: CloseReason.Codes.INTERNAL_ERROR, message: "" }))
        })
      )
    const connect = (request: Engine.ConnectRequest, listener: Engine.Listener) =>
      Effect.gen(function*() {
        const serverRequest: ServerRequest = {
          url: request.url,
          headers: request.headers,
          protocols: request.protocols,
          deflate: request.deflate,
          maxFrameSize: request.maxFrameSize
        }
        const answer = yield* answerOf(serverRequest)
        if (answer._tag === "Refuse") {
          return yield* new WebSocketException({
            reason: "Handshake",
            message: `Handshake exception, expected status code 101 but was ${answer.status}`,
            status: answer.status
          })
        }
        const protocol = answer.protocol ?? serverRequest.protocols[0] ?? ""
        const problem = checkAnswer(serverRequest, protocol, answer)
        if (problem !== undefined) return yield* handshakeError(serverRequest, problem, protocol)
        // once accepted, the connection is handed over whole: an interruption here would leave it open unseen
        return yield* Effect.uninterruptible(open(serverRequest, listener, protocol, answer))
      })
    const open = (request: ServerRequest, listener: Engine.Listener, protocol: string, answer: Accept) =>
      Effect.gen(function*() {
        const connection = yield* internal.make(request, listener, behaviour)
        const client = connection.connection({
          status: 101,
          headers: upgradeHeaders(protocol, answer),
          protocol,
          extensions: answer.extensions
        })
        // the session learns of the connection before the server can send anything
        listener.onOpen(client)
        yield* Queue.offer(connections, connection.server())
        if (options.handler !== undefined) yield* FiberSet.run(fibers, runHandler(connection, options.handler))
        return client
      })
    const engine: Engine.Service = {
      name: "test",
      capabilities: new Set(options.capabilities ?? Engine.allCapabilities),
      connect
    }
    return { engine, connections }
  })

/**
 * A test server as a layer: provides the `Engine` connecting to it and the `TestServer` itself.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Frame, TestEngine, WebSockets } from "effect-websockets"
 *
 * const TestLive = WebSockets.layer().pipe(
 *   Layer.provideMerge(TestEngine.layer({
 *     handler: (server) =>
 *       Effect.gen(function*() {
 *         const question = yield* server.receive
 *         yield* server.send(`You asked: ${Frame.readText(question)}`)
 *       })
 *   }))
 * )
 *
 * export const answer = WebSockets.webSocket("ws://bot.test/chat", (session) =>
 *   Effect.gen(function*() {
 *     yield* session.send("2 + 2?")
 *     return Frame.readText(yield* session.receive) // "You asked: 2 + 2?"
 *   })).pipe(Effect.provide(TestLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Engine.Engine | TestServer> =>
  Layer.scopedContext(
    Effect.map(
      make(options),
      (server) => Context.make(TestServer, server).pipe(Context.add(Engine.Engine, server.engine))
    )
  )

/**
 * Waits for the next connection accepted by the server of `layer`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const nextConnection: Effect.Effect<ServerConnection, never, TestServer> = Effect.flatMap(
  TestServer,
  (server) => Queue.take(server.connections)
)

/**
 * A handler that sends every data frame back as it came.
 *
 * @since 0.1.0
 * @category handlers
 */
export const echo = (connection: ServerConnection): Effect.Effect<void> =>
  connection.incoming.pipe(
    Stream.filter(Frame.isData),
    Stream.runForEach((frame) => connection.send(frame))
  )
