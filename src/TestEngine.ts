/**
 * An in-memory engine for testing your own programs: no sockets, a scripted server instead.
 *
 * The server answers each handshake (`accept` with a status 101, a protocol and headers, or `refuse` with any
 * status), then runs a `handler` per connection that reads what the client sent (`receive`, `incoming`: data frames
 * and Close, Ping, Pong) and answers (`send`, `close`, `drop`). A handler that returns leaves its connection open
 * (the test may go on scripting it through `nextConnection`); `close` or `drop` end it. Its protocol layer answers
 * the client's Pings and Close on its own, like a real server library, unless told to `ignorePings` / `ignoreClose`.
 *
 * The engine keeps the rules of `NodeEngine` (size limit, close handshake, pause), and every wait in the library
 * is an Effect timer, so under `it.effect` a ping timeout or a connect timeout is reached with `TestClock.adjust`.
 * While the session pauses reading (a slow consumer), what the server sends waits in the engine, the server's
 * Pongs and Close included, as they would in the socket. Frames are never encoded, so an agreed extension
 * (`accept({ extensions: "permessage-deflate" })`) only shows in `session.call`.
 *
 * It cannot lie: a handler's failure (a failed `expect` included) fails the run that opened the connection, even
 * when it happens after the client closed (see `Options.handler`). It behaves like a real peer: a request/response
 * loop returns to the event loop so that timers fire, `drop` delivers what the client had received before the 1006,
 * invalid UTF-8 is judged as `ws` judges it, ended connections are not kept, and releasing the server drops the
 * connections still open (1006).
 *
 * ```ts
 * const TestLive = WebSockets.layer().pipe(Layer.provide(TestEngine.layer({ handler: TestEngine.echo })))
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { CloseReason } from "./CloseReason.js"
import * as Engine from "./Engine.js"
import { WebSocketException } from "./Errors.js"
import * as Frame from "./Frame.js"
import * as HandshakeErrors from "./internal/handshakeErrors.js"
import * as internal from "./internal/testEngine.js"

/**
 * The handshake request as the scripted server sees it: URL, headers (names in lower case, as a Node server sees
 * them), offered protocols and deflate settings, and the client's `maxFrameSize`.
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
 * - `request`: the handshake request; header names arrive in lower case, as a Node server sees them.
 * - `incoming` / `receive`: every frame the client sent, in order: data frames as sent (with `fin`), and the
 *   Close, Ping and Pong frames. Once the connection is gone and every frame was read, `incoming` ends and `receive`
 *   fails with `ConnectionClosed` (naming the connection and who ended it). Each frame goes to one reader: a handler
 *   and a test should not both read; a reader that stops early leaves the rest for the next one.
 * - `received`: every frame the client sent so far, read or not (this connection's own log, gone with it).
 * - `send`: a string (Text), bytes (Binary) or any `Frame`, including malformed ones to test violations (a Text
 *   frame holding a lone surrogate stands for invalid UTF-8). Frames sent after the server's Close or after the
 *   connection ended go nowhere, as with `ws` when no callback is given.
 * - `close(reason)`: sends Close (default 1000 NORMAL). `send(Frame.close())` sends one without a code.
 * - `drop`: ends the connection without a Close: the client gets what it had received already, then 1006.
 * - `closed`: waits until the connection is gone.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerConnection extends internal.ServerConnection {
  readonly request: ServerRequest
}

/**
 * `receive` on a connection that has ended: the message names the connection and who ended it (the client or the
 * server with a Close, or a drop). A handler that ends with this error ends quietly: reading until the client
 * leaves is how a server loop such as `Effect.forever(server.receive …)` stops.
 *
 * @since 0.1.0
 * @category errors
 */
export const ConnectionClosed = internal.ConnectionClosed

/**
 * @since 0.1.0
 * @category errors
 */
export type ConnectionClosed = internal.ConnectionClosed

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
   * Runs for every accepted connection, in its own fiber. Returning leaves the connection open (the test may go
   * on scripting it through `nextConnection`); `close` or `drop` end it.
   *
   * The handler cannot make a test pass that should fail. When it fails or dies (a failed `expect` included), the
   * server closes the connection with 1011 INTERNAL_ERROR if it is still open, and the scope that opened the
   * connection (the client's `webSocket`, or the scope of `webSocketSession`) dies with the handler's own error when
   * it closes: after the client's close handshake it waits for the handler to finish (see `gracePeriod`), so an
   * assertion made after the client is done still counts. A failure not reported that way (the connection's scope
   * outlived the server) makes the server's own scope die when it closes.
   *
   * A handler that ends because it read past the end (`ConnectionClosed`), or is interrupted, ends quietly.
   */
  readonly handler?: ((connection: ServerConnection) => Effect.Effect<unknown, unknown>) | undefined
  /**
   * How long, in real time, a handler may go on once the connection's scope is closing before it is interrupted
   * (as a server is stopped at the end of a test). Real time, not the `TestClock`: a handler waiting on a timer
   * nobody advances must not hold the test. Default 1 second; it only passes for a handler that does not finish.
   */
  readonly gracePeriod?: Duration.DurationInput | undefined
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
  /**
   * Every accepted connection, in order (whether or not a `handler` runs for it). It keeps the last
   * `KEPT_CONNECTIONS` that nobody has taken, dropping older ones, so a server shared by thousands of sessions
   * does not keep them all.
   */
  readonly connections: Queue.Dequeue<ServerConnection>
}

/**
 * How many accepted connections the server keeps for `nextConnection` when nobody takes them.
 *
 * @since 0.1.0
 * @category constants
 */
export const KEPT_CONNECTIONS = 1024

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

/** What a handler's fiber leaves behind: the failure to report, or nothing. */
type Outcome = Cause.Cause<unknown> | undefined

/** A handler that read past the end of its connection, or was interrupted, ended as a server loop ends. */
const endsQuietly = (cause: Cause.Cause<unknown>): boolean =>
  Cause.defects(cause).length === 0 &&
  Cause.failures(cause).pipe((failures) => [...failures].every((e) => e instanceof internal.ConnectionClosed))

const DEFAULT_GRACE_PERIOD = Duration.seconds(1)

const internalError = new CloseReason({ code: CloseReason.Codes.INTERNAL_ERROR, message: "" })

/**
 * Starts a test server and the engine connecting to it; both stop with the scope. Stopping ends every connection
 * still open (the clients see 1006), lets handlers finish (`gracePeriod`), then interrupts the rest.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const fibers = yield* FiberSet.make<Outcome, never>()
    const connections = yield* Queue.sliding<ServerConnection>(KEPT_CONNECTIONS)
    /** Connections still open: ended ones are forgotten at once, so that nothing of them is kept here. */
    const open = new Set<internal.TestConnection>()
    /** Handler failures not reported yet by the scope that opened their connection. */
    const unreported = new Set<Cause.Cause<unknown>>()
    const grace = Duration.toMillis(Duration.decode(options.gracePeriod ?? DEFAULT_GRACE_PERIOD))

    /** Waits for a handler to finish, for at most the grace period, then interrupts it. */
    const settle = (fiber: Fiber.RuntimeFiber<Outcome, unknown>): Effect.Effect<Outcome> =>
      // finalizers run uninterruptibly: without `interruptible` the race could not stop the losing wait
      Effect.interruptible(
        Effect.raceFirst(Fiber.await(fiber), Effect.as(internal.realSleep(grace), undefined))
      ).pipe(
        Effect.flatMap((exit: Exit.Exit<Outcome, unknown> | undefined) =>
          exit === undefined ? Effect.as(Fiber.interrupt(fiber), undefined) : Effect.succeed(
            exit._tag === "Success" ? exit.value : undefined
          )
        )
      )

    /** Raises a failure once, as a defect carrying the handler's own error (a failed `expect` stays itself). */
    const raise = (cause: Outcome): Effect.Effect<void> => {
      if (cause === undefined || !unreported.delete(cause)) return Effect.void
      return Effect.orDie(Effect.failCause(cause))
    }

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        // the server goes away: every session still open sees its connection drop (1006)
        for (const connection of [...open]) connection.dropFromServer(true)
        yield* Effect.forEach(fibers, settle, { concurrency: "unbounded", discard: true })
        yield* FiberSet.clear(fibers)
        const [first] = unreported
        if (first !== undefined) yield* raise(first)
      })
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
    const runHandler = (
      connection: internal.TestConnection,
      handler: NonNullable<Options["handler"]>
    ): Effect.Effect<Outcome> =>
      Effect.interruptible(Effect.suspend(() => handler(connection.server()))).pipe(
        Effect.matchCauseEffect({
          onSuccess: () => Effect.succeed(undefined),
          onFailure: (cause) => {
            if (endsQuietly(cause)) return Effect.succeed(undefined)
            unreported.add(cause)
            return Effect.as(connection.server().close(internalError), cause)
          }
        })
      )
    const connect = (request: Engine.ConnectRequest, listener: Engine.Listener) =>
      internal.fairly(Effect.gen(function*() {
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value
        const serverRequest: ServerRequest = {
          url: request.url,
          headers,
          protocols: request.protocols,
          deflate: request.deflate,
          maxFrameSize: request.maxFrameSize
        }
        const answer = yield* answerOf(serverRequest)
        if (answer._tag === "Refuse") {
          return yield* WebSocketException.handshake(answer.status)
        }
        const protocol = answer.protocol ?? serverRequest.protocols[0] ?? ""
        const problem = checkAnswer(serverRequest, protocol, answer)
        if (problem !== undefined) return yield* handshakeError(serverRequest, problem, protocol)
        // once accepted, the connection is handed over whole: an interruption here would leave it open unseen
        return yield* Effect.uninterruptible(accepted(serverRequest, listener, protocol, answer))
      }))
    const forget = (connection: internal.TestConnection) => {
      open.delete(connection)
    }
    const accepted = (request: ServerRequest, listener: Engine.Listener, protocol: string, answer: Accept) =>
      Effect.gen(function*() {
        const connection = yield* internal.make(request, listener, behaviour, forget)
        open.add(connection)
        const client = connection.connection({
          status: 101,
          headers: upgradeHeaders(protocol, answer),
          protocol,
          extensions: answer.extensions
        })
        // the session learns of the connection before the server can send anything
        listener.onOpen(client)
        yield* Queue.offer(connections, connection.server())
        if (options.handler !== undefined) {
          const fiber = yield* FiberSet.run(fibers, runHandler(connection, options.handler))
          // The session is opened in a scope (the client's `webSocket`, or the user's scope around
          // `webSocketSession`). A finalizer added to it now runs after the session's own (added once `connect`
          // returns): once the close handshake is over, it waits for the handler and raises its failure there, so
          // that the run which opened the connection fails with it.
          const scope = yield* Effect.serviceOption(Scope.Scope)
          if (Option.isSome(scope)) yield* Scope.addFinalizer(scope.value, Effect.flatMap(settle(fiber), raise))
        }
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
