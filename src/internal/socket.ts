/**
 * `@effect/platform`'s `Socket.Socket` over this client's sessions, so that `@effect/rpc`
 * (`RpcClient.layerProtocolSocket`) and other `Socket` users run with the pinger, `maxFrameSize`, backpressure and
 * typed errors of a `DefaultClientWebSocketSession`.
 *
 * It behaves as the platform's own `Socket.makeWebSocket`:
 * - each `run` / `runRaw` opens a session and lasts as long as it: the handler gets every data message (`runRaw`: a
 *   string for a Text message, bytes for a Binary one; `run`: always bytes, text encoded as UTF-8), and an Effect it
 *   returns runs in a fiber of its own, whose failure fails the run;
 * - the session's end is a `SocketCloseError` with its close code, which ends the run quietly when
 *   `closeCodeIsError(code)` is false (by default for 1000 and 1006, as on the platform);
 * - the writer waits until a run has a session open; a string goes out as a Text message, bytes as a Binary one, and
 *   a `Socket.CloseEvent` closes the session with its code and reason (the run then ends with that code). Like a
 *   `WebSocket` after its close, a session that is no longer open drops what is written to it;
 * - when the socket's scope closes, a session still open is closed (1000).
 *
 * Where the platform's socket would report an opaque `Event`, this one keeps the library's `WebSocketException` as
 * the `cause` of the `SocketGenericError`: "Open" (handshake refused, connect failure, `Capability`), "OpenTimeout"
 * (`connectTimeout`), "Read" (dropped without a Close frame, `PingTimeout`, `FrameTooBig`, `Protocol`), "Write"
 * (e.g. `InvalidCloseCode` for a `CloseEvent` whose code may not be sent).
 */
import * as Socket from "@effect/platform/Socket"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { CloseReason } from "../CloseReason.js"
import type { WebSocketException } from "../Errors.js"
import type * as Frame from "../Frame.js"
import type { DefaultClientWebSocketSession } from "../Session.js"

/** Options of `WebSockets.socket` / `WebSockets.layerSocket` (public as `WebSockets.SocketOptions`, Layer.ts). */
export interface SocketOptions {
  /** Which close codes fail a run (with a `SocketCloseError`); default: all but 1000 and 1006, as on the platform. */
  readonly closeCodeIsError?: ((code: number) => boolean) | undefined
}

/** A `SocketGenericError` whose message names the library's error it was raised for (kept as its `cause`). */
class SessionSocketError extends Socket.SocketGenericError {
  override get message(): string {
    const cause = this.cause as { readonly message?: unknown } | undefined
    return typeof cause?.message === "string" && cause.message !== ""
      ? `An error occurred during ${this.reason}: ${cause.message}`
      : `An error occurred during ${this.reason}`
  }
}

/** The `SocketError` for a failure of the session (its `WebSocketException` kept as `cause`). */
export const toSocketError = (
  phase: "Open" | "Read" | "Write",
  error: WebSocketException
): Socket.SocketGenericError =>
  new SessionSocketError({
    reason: phase === "Open" && error.reason === "Timeout" ? "OpenTimeout" : phase,
    cause: error
  })

const openError = (error: WebSocketException) => toSocketError("Open", error)

/** A write to a session that has closed is dropped, as a `WebSocket` drops it; anything else is an error. */
const writeError = (error: WebSocketException): Effect.Effect<void, Socket.SocketError> =>
  error.reason === "Closed" ? Effect.void : Effect.fail(toSocketError("Write", error))

/** Handler fibers running at once before the socket stops being read (then the session's backpressure applies). */
const MAX_HANDLERS_IN_FLIGHT = 256

const encoder = new TextEncoder()

/**
 * A `Socket.Socket` whose runs each open a session with `open` (given the scope of the run).
 */
export const make = (
  open: Effect.Effect<DefaultClientWebSocketSession, WebSocketException, Scope.Scope>,
  options?: SocketOptions
): Effect.Effect<Socket.Socket, never, Scope.Scope> =>
  Effect.gen(function*() {
    let current: DefaultClientWebSocketSession | undefined
    const latch = yield* Effect.makeLatch(false)
    const closeCodeIsError = options?.closeCodeIsError ?? Socket.defaultCloseCodeIsError
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => current === undefined ? Effect.void : Effect.ignore(current.close()))
    )

    const runRaw = <_, E = never, R = never>(
      handler: (data: string | Uint8Array) => Effect.Effect<_, E, R> | void,
      opts?: { readonly onOpen?: Effect.Effect<void> | undefined }
    ): Effect.Effect<void, Socket.SocketError | E, R> =>
      Effect.scopedWith((scope) =>
        Effect.gen(function*() {
          const fibers = yield* Scope.extend(FiberSet.make<unknown, E | Socket.SocketError>(), scope)
          const session = yield* Scope.extend(open, scope).pipe(Effect.mapError(openError))
          const runFork = yield* FiberSet.runtime(fibers)<R>()
          current = session
          yield* latch.open
          if (opts?.onOpen !== undefined) yield* opts.onOpen
          yield* FiberSet.run(fibers, read(session, handler, runFork))
          return yield* FiberSet.join(fibers).pipe(
            Effect.catchIf(Socket.SocketCloseError.isClean((code) => !closeCodeIsError(code)), () => Effect.void)
          )
        })
      ).pipe(
        Effect.ensuring(Effect.sync(() => {
          latch.unsafeClose()
          current = undefined
        })),
        Effect.interruptible
      )

    const run = <_, E = never, R = never>(
      handler: (data: Uint8Array) => Effect.Effect<_, E, R> | void,
      opts?: { readonly onOpen?: Effect.Effect<void> | undefined }
    ): Effect.Effect<void, Socket.SocketError | E, R> =>
      runRaw((data) => handler(typeof data === "string" ? encoder.encode(data) : data), opts)

    const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
      latch.whenOpen(Effect.suspend(() => {
        const session = current
        if (session === undefined) return Effect.void
        if (Socket.isCloseEvent(chunk)) {
          return Effect.catchAll(
            session.close(new CloseReason({ code: chunk.code, message: chunk.reason ?? "" })),
            writeError
          )
        }
        return Effect.catchAll(session.send(chunk), writeError)
      }))

    return Socket.Socket.of({
      [Socket.TypeId]: Socket.TypeId,
      run,
      runRaw,
      writer: Effect.succeed(write)
    })
  })

/**
 * Feeds the session's messages to `handler` until the session ends, then fails with what ended it: a
 * `SocketCloseError` with the close code, or the `SocketGenericError` ("Read") of a session that failed.
 */
const read = <_, E, R>(
  session: DefaultClientWebSocketSession,
  handler: (data: string | Uint8Array) => Effect.Effect<_, E, R> | void,
  runFork: <XE extends E | Socket.SocketError, XA>(effect: Effect.Effect<XA, XE, R>) => Fiber.RuntimeFiber<XA, XE>
): Effect.Effect<never, Socket.SocketError> =>
  Effect.suspend(() => {
    // handler fibers in flight: past the limit, reading pauses until half of them are done, so that a handler slower
    // than the peer fills the session's inbox and the session stops reading the socket
    let inFlight = 0
    const slots = Effect.unsafeMakeLatch(true)
    const done = () => {
      inFlight--
      if (inFlight <= MAX_HANDLERS_IN_FLIGHT / 2) slots.unsafeOpen()
    }
    const deliver = (frames: ReadonlyArray<Frame.Text | Frame.Binary>): Effect.Effect<void> => {
      for (let i = 0; i < frames.length; i++) {
        const result = handler(frames[i]!.data)
        if (Effect.isEffect(result)) {
          inFlight++
          runFork(result).addObserver(done)
        }
      }
      if (inFlight < MAX_HANDLERS_IN_FLIGHT) return Effect.void
      slots.unsafeClose()
      return slots.await
    }
    return session.incoming.pipe(
      Stream.runForEachChunk((chunk) => deliver(Chunk.toReadonlyArray(chunk))),
      Effect.mapError((error) => toSocketError("Read", error)),
      Effect.zipRight(session.closeReason),
      Effect.flatMap((reason) => {
        const r = Option.getOrElse(reason, () => new CloseReason({ code: 1000, message: "" }))
        return Effect.fail(
          new Socket.SocketCloseError({
            reason: "Close",
            code: r.code,
            closeReason: r.message === "" ? undefined : r.message
          })
        )
      })
    )
  })
