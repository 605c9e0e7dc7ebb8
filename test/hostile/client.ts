/**
 * The client side of the conformance cases: an echo client over the real Node engine, plus the leak checks
 * (active handles and live fibers) every case runs after the session has ended.
 */
import { Effect, Either, Layer, Option, Stream, Supervisor } from "effect"
import { CloseReason, Frame, NodeEngine, WebSockets, WebSocketException } from "../../src/index.js"
import type { Peer } from "./peer.js"

/** What a client run produced. */
export interface ClientOutcome {
  /** The handshake failed: the session never existed. */
  readonly connectError: WebSocketException | undefined
  /** Messages `incoming` delivered, in order. */
  readonly delivered: ReadonlyArray<Frame.Text | Frame.Binary>
  /** How `incoming` ended: undefined for a quiet end, else its error. */
  readonly error: WebSocketException | undefined
  readonly closeReason: Option.Option<CloseReason>
  /** Fibers started by the run that were still alive once it returned. */
  readonly liveFibers: number
  /** `performance.now()` when `incoming` ended or failed. */
  readonly endedAt: number
  /** `performance.now()` when the scope had closed and the run returned. */
  readonly returnedAt: number
}

/**
 * Opens a session on `url`, echoes every message it receives (as Autobahn's test client does) until `incoming`
 * ends, then reads `closeReason` and closes the scope.
 */
export const runEchoClient = async (
  url: string,
  options: WebSockets.Options = {},
  mode: "echo" | "collect" = "echo"
): Promise<ClientOutcome> => {
  const supervisor = await Effect.runPromise(Supervisor.track)
  const delivered: Array<Frame.Text | Frame.Binary> = []
  let endedAt = Number.NaN
  const program = Effect.scoped(
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const ended = yield* session.incoming.pipe(
        Stream.runForEach((frame) => {
          delivered.push(frame)
          return mode === "echo" ? session.send(frame) : Effect.void
        }),
        Effect.either
      )
      endedAt = performance.now()
      const closeReason = yield* session.closeReason
      return { error: Either.isLeft(ended) ? ended.left : undefined, closeReason }
    })
  ).pipe(
    Effect.either,
    Effect.supervised(supervisor),
    Effect.provide(WebSockets.layer(options).pipe(Layer.provide(NodeEngine.layer)))
  )
  const result = await Effect.runPromise(program)
  const liveFibers = (await Effect.runPromise(supervisor.value)).length
  const returnedAt = performance.now()
  if (Either.isLeft(result)) {
    const closeReason = Option.none()
    return { connectError: result.left, delivered, error: undefined, closeReason, liveFibers, endedAt, returnedAt }
  }
  return { connectError: undefined, delivered, ...result.right, liveFibers, endedAt, returnedAt }
}

/** Active resources by type (sockets, timers, …) minus the peer's own open sockets. */
export type Resources = Readonly<Record<string, number>>

export const resources = (peer?: Peer): Resources => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
  if (peer !== undefined) counts["TCPSocketWrap"] = (counts["TCPSocketWrap"] ?? 0) - peer.openSockets()
  for (const name of Object.keys(counts)) if (counts[name] === 0) delete counts[name]
  return counts
}

/** The resources of `now` that exceed `before`, by type: empty when nothing grew. */
export const growth = (before: Resources, now: Resources): Resources => {
  const out: Record<string, number> = {}
  for (const name of Object.keys(now)) {
    const grown = (now[name] ?? 0) - (before[name] ?? 0)
    if (grown > 0) out[name] = grown
  }
  return out
}

/**
 * Waits (at most `guardMs`) until no resource type counts more than in `before`; returns what still grew (empty
 * when nothing did). Closing a socket takes a few ticks, hence the wait. Counts may fall below `before`: the
 * previous case's server may still have been closing when `before` was taken.
 */
export const resourcesSettled = async (before: Resources, peer?: Peer, guardMs = 3_000): Promise<Resources> => {
  const deadline = Date.now() + guardMs
  let grown = growth(before, resources(peer))
  while (Object.keys(grown).length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5))
    grown = growth(before, resources(peer))
  }
  return grown
}

/** Closes when a promise takes longer than `ms`: a guard so that a hung case fails instead of hanging. */
export const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)
    })
  ])
}
